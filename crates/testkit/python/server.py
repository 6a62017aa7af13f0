"""An MCP server on the official Python SDK (`mcp`, pinned in requirements.txt), for Airlock's tests.

Streamable HTTP on 127.0.0.1:PORT at /mcp, with an in-memory event store (resumable streams) and a
short SSE `retry`, so it exercises what server-everything does not:
  - unknown or ended sessions get HTTP 404 (the spec's rule; server-everything answers 400);
  - the tool `poll` closes its own SSE response stream before answering (SEP-1699 polling): the
    client must resume with GET + Last-Event-ID to get the progress it missed and the result.
Tools: `echo(message)`, `poll(message)`.

Usage: python server.py PORT   (prints "READY <port>" on stdout once it listens)
"""

import asyncio
import itertools
import sys

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http import EventMessage, EventStore


class MemoryEventStore(EventStore):
    def __init__(self):
        self.events = []  # (event_id, stream_id, message)
        self.ids = itertools.count(1)

    async def store_event(self, stream_id, message):
        event_id = str(next(self.ids))
        self.events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id, send_callback):
        stream = next((s for e, s, _ in self.events if e == last_event_id), None)
        if stream is None:
            return None
        after = False
        for event_id, stream_id, message in self.events:
            if after and stream_id == stream and message is not None:
                await send_callback(EventMessage(message, event_id))
            if event_id == last_event_id:
                after = True
        return stream


server = MCPServer("airlock-python-peer")


@server.tool()
async def echo(message: str) -> str:
    return f"Echo: {message}"


@server.tool()
async def poll(message: str, ctx: Context) -> str:
    await ctx.report_progress(1, 2)
    # Hang up on the client mid-call; what follows is stored and replayed on resumption.
    await ctx.close_sse_stream()
    await asyncio.sleep(0.3)
    await ctx.report_progress(2, 2)
    return f"Polled: {message}"


async def main(port):
    app = server.streamable_http_app(event_store=MemoryEventStore(), retry_interval=100)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.05)
    print(f"READY {port}", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
