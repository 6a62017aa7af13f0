"""An MCP agent on the official Python SDK (`mcp`, pinned in requirements.txt), for Airlock's tests.

Usage:
  python client.py (--url URL | --stdio COMMAND [ARG...] --) [options] [steps]
Options:
  --header NAME=VALUE   extra HTTP header (repeatable)
  --sampling            declare sampling; answers with a fixed text
  --elicitation         declare elicitation; accepts with {"name": "airlock"}
  --timeout SECONDS     per-request read timeout (the SDK default is none)
  --progress            ask for progress on tool calls (adds _meta.progressToken)
Steps, run in order:
  --list                tools/list
  --call TOOL JSON_ARGS tools/call

Output: one JSON object per line on stdout, the same events as ts_client.mjs. Exit status 0 when
every step succeeded, 1 otherwise.
"""

import asyncio
import json
import sys
from contextlib import AsyncExitStack

import httpx2
from mcp import ClientSession, types
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_args(argv):
    opts = {"headers": {}, "steps": [], "url": None, "command": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--url":
            i += 1
            opts["url"] = argv[i]
        elif a == "--stdio":
            end = argv.index("--", i + 1)
            opts["command"] = argv[i + 1]
            opts["args"] = argv[i + 2 : end]
            i = end
        elif a == "--header":
            i += 1
            name, _, value = argv[i].partition("=")
            opts["headers"][name] = value
        elif a in ("--sampling", "--elicitation", "--progress"):
            opts[a[2:]] = True
        elif a == "--timeout":
            i += 1
            opts["timeout"] = float(argv[i])
        elif a == "--list":
            opts["steps"].append(("list", None, None))
        elif a == "--call":
            opts["steps"].append(("call", argv[i + 1], json.loads(argv[i + 2])))
            i += 2
        else:
            raise SystemExit(f"unknown argument {a}")
        i += 1
    if not opts["url"] and not opts["command"]:
        raise SystemExit("give --url or --stdio")
    return opts


async def sampling(context, params):
    out({"event": "sampling", "params": params.model_dump(mode="json", exclude_none=True)})
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text="sampled by airlock-python-client"),
        model="airlock-test-model",
        stop_reason="endTurn",
    )


async def elicitation(context, params):
    out({"event": "elicitation", "params": params.model_dump(mode="json", exclude_none=True)})
    return types.ElicitResult(action="accept", content={"name": "airlock"})


async def main(argv):
    opts = parse_args(argv)
    failed = False
    async with AsyncExitStack() as stack:
        if opts["url"]:
            http_client = await stack.enter_async_context(
                httpx2.AsyncClient(headers=opts["headers"], timeout=httpx2.Timeout(30, read=300))
            )
            streams = await stack.enter_async_context(
                streamable_http_client(opts["url"], http_client=http_client)
            )
        else:
            params = StdioServerParameters(command=opts["command"], args=opts["args"])
            streams = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(
            ClientSession(
                streams[0],
                streams[1],
                read_timeout_seconds=opts.get("timeout"),
                sampling_callback=sampling if opts.get("sampling") else None,
                elicitation_callback=elicitation if opts.get("elicitation") else None,
                client_info=types.Implementation(name="airlock-python-client", version="0.0.0"),
            )
        )
        init = await session.initialize()
        out(
            {
                "event": "initialized",
                "protocolVersion": init.protocol_version,
                "serverInfo": init.server_info.model_dump(mode="json", exclude_none=True),
            }
        )

        async def progress(p, total, message):
            out({"event": "progress", "progress": p, "total": total, "message": message})

        for kind, tool, args in opts["steps"]:
            try:
                if kind == "list":
                    res = await session.list_tools()
                    out({"event": "tools", "names": [t.name for t in res.tools]})
                else:
                    res = await session.call_tool(
                        tool,
                        args,
                        progress_callback=progress if opts.get("progress") else None,
                    )
                    out(
                        {
                            "event": "result",
                            "tool": tool,
                            "result": res.model_dump(mode="json", by_alias=True, exclude_none=True),
                        }
                    )
            except Exception as e:  # noqa: BLE001 - report every failure as an event
                failed = True
                out({"event": "error", "step": kind, "tool": tool, "message": str(e)})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
