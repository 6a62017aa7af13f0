#!/usr/bin/env python3
"""A stdio MCP server for Airlock's gate tests that logs everything it receives and everything it
*executes*.

It is deliberately lenient, the way a careless server is: it runs a `tools/call` that arrives as a
notification (no id, or `id: null`), and it decodes `arguments` sent as a JSON string. So a test
can check that nothing reaches it that the gate did not decide: every executed call is a line in
the log.

Usage: logging_upstream.py LOG_FILE

Every message received is appended to LOG_FILE as `{"received": <message>}`; every tool run as
`{"executed": <tool>, "arguments": <args>, "id": <id>}`; the process start as `{"pid": <pid>}`.

Tools:
  echo {..}                  answers with its arguments as text
  (any tool) {stderr: text}  also prints `text` to its stderr
  slow {ms}                  answers after `ms` milliseconds
  hang {}                    never answers
  fail {}                    answers with a JSON-RPC error
  null_id {}                 answers with an error whose id is null (as a server does that could
                             not read its input)
  progress {every_ms, count} sends `count` progress notifications `every_ms` apart, then answers
  die {}                     exits the process at once
"""

import json
import os
import sys
import threading
import time

LOG = sys.argv[1]
OUT = threading.Lock()
LOG_LOCK = threading.Lock()

TOOLS = [
    {"name": name, "description": desc, "inputSchema": {"type": "object"}}
    for name, desc in [
        ("echo", "Answers with its arguments"),
        ("slow", "Answers after `ms` milliseconds"),
        ("hang", "Never answers"),
        ("fail", "Answers with a JSON-RPC error"),
        ("null_id", "Answers with an error whose id is null"),
        ("progress", "Sends progress, then answers"),
        ("die", "Exits the process"),
    ]
]


def log(entry):
    with LOG_LOCK, open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def send(msg):
    with OUT:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()


def result(id_, value):
    send({"jsonrpc": "2.0", "id": id_, "result": value})


def text(id_, value):
    result(id_, {"content": [{"type": "text", "text": value}]})


def call(msg):
    params = msg.get("params") or {}
    if not isinstance(params, dict):
        params = {}
    name = params.get("name")
    args = params.get("arguments")
    if isinstance(args, str):
        # A lenient server decodes string arguments: exactly what the gate must never let through.
        try:
            args = json.loads(args)
        except ValueError:
            pass
    if not isinstance(args, dict):
        args = {}
    id_ = msg.get("id")
    log({"executed": name, "arguments": args, "id": id_})
    if isinstance(args.get("stderr"), str):
        # What servers do: print to their stderr what they were given (the gate logs it).
        print(args["stderr"], file=sys.stderr, flush=True)
    if name == "echo":
        text(id_, json.dumps(args, sort_keys=True))
    elif name == "slow":
        time.sleep(float(args.get("ms", 100)) / 1000)
        text(id_, "slow done")
    elif name == "hang":
        return
    elif name == "fail":
        send({"jsonrpc": "2.0", "id": id_, "error": {"code": -32000, "message": "the tool failed"}})
    elif name == "null_id":
        send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "could not read the request"}})
    elif name == "progress":
        token = (params.get("_meta") or {}).get("progressToken")
        every = float(args.get("every_ms", 200)) / 1000
        for i in range(int(args.get("count", 5))):
            time.sleep(every)
            if token is not None:
                send({
                    "jsonrpc": "2.0",
                    "method": "notifications/progress",
                    "params": {"progressToken": token, "progress": i + 1},
                })
        text(id_, "progress done")
    elif name == "die":
        os._exit(3)
    else:
        send({"jsonrpc": "2.0", "id": id_, "error": {"code": -32602, "message": f"unknown tool {name}"}})


def handle(msg):
    method = msg.get("method")
    id_ = msg.get("id")
    if method == "initialize":
        version = (msg.get("params") or {}).get("protocolVersion", "2025-06-18")
        result(id_, {
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "logging-upstream", "version": "1"},
        })
    elif method == "tools/list":
        result(id_, {"tools": TOOLS})
    elif method == "tools/call":
        # Runs notifications too (no id, or id null): a careless server does.
        threading.Thread(target=call, args=(msg,), daemon=True).start()
    elif method == "ping" and id_ is not None:
        result(id_, {})
    elif id_ is not None and method is not None:
        send({"jsonrpc": "2.0", "id": id_, "error": {"code": -32601, "message": f"no method {method}"}})


def main():
    log({"pid": os.getpid()})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            continue
        items = msg if isinstance(msg, list) else [msg]
        for item in items:
            log({"received": item})
            if isinstance(item, dict):
                handle(item)


if __name__ == "__main__":
    main()
