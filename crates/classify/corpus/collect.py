#!/usr/bin/env python3
"""Records the tools/list of real MCP servers into the classifier's corpus.

For each server in servers.json (or only those named on the command line) this installs the exact
package version from its registry into a cache outside the repository (npm into
<cache>/npm/<name>, PyPI into a venv at <cache>/venv/<name>), starts it over stdio with dummy
credentials (listing tools calls no remote API), runs the MCP handshake, pages through
tools/list, and writes <name>.json next to this script: where the tools came from (registry,
package, version, the server's own serverInfo) and the tools exactly as the server listed them.

    python3 crates/classify/corpus/collect.py [--cache DIR] [--airlock PATH] [NAME ...]

The labels a human gave each tool are in labels.json, not here: re-collecting never touches them,
and the corpus test fails on a tool without a label (or a label without a tool).
"""

import argparse
import json
import os
import pathlib
import queue
import subprocess
import sys
import tempfile
import threading

HERE = pathlib.Path(__file__).resolve().parent
TIMEOUT = 60.0


def install(server, cache):
    """Installs the server's package; returns the path of the executable to start."""
    name, package, version = server["name"], server["package"], server["version"]
    env = dict(os.environ, **server.get("install_env", {}))
    if server["registry"] == "npm":
        prefix = cache / "npm" / name
        prefix.mkdir(parents=True, exist_ok=True)
        binary = prefix / "node_modules" / ".bin" / server["bin"]
        if not binary.exists():
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                 f"{package}@{version}"],
                check=True, env=env, stdout=sys.stderr)
        return binary
    if server["registry"] == "pypi":
        venv = cache / "venv" / name
        binary = venv / "bin" / server["bin"]
        if not binary.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                            f"{package}=={version}", *server.get("requirements", [])],
                           check=True, env=env, stdout=sys.stderr)
        return binary
    raise SystemExit(f"{name}: unknown registry `{server['registry']}`")


def command_line(server, cache, tmp, airlock):
    def fill(text):
        return text.replace("{tmp}", tmp).replace("{airlock}", airlock)

    if "command" in server:
        return [fill(part) for part in server["command"]]
    return [str(install(server, cache))] + [fill(a) for a in server.get("args", [])]


class Peer:
    """A stdio MCP server: one JSON message per line."""

    def __init__(self, argv, env, cwd):
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, cwd=cwd, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next_id = 0

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, message):
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            if line is None:
                raise RuntimeError(f"the server exited before answering {method}")
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue  # some servers print banners on stdout
            if message.get("id") == self.next_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message["result"]
            if "method" in message and "id" in message:
                # Decline requests from the server (roots, sampling): this client offers none.
                self.send({"jsonrpc": "2.0", "id": message["id"],
                           "error": {"code": -32601, "message": "not supported"}})

    def close(self):
        self.process.kill()
        self.process.wait()


def collect(server, cache, airlock):
    with tempfile.TemporaryDirectory() as tmp:
        if server["name"] == "git":
            subprocess.run(["git", "init", "--quiet", tmp], check=True)
        argv = command_line(server, cache, tmp, airlock)
        env = dict(os.environ, **{k: v.replace("{tmp}", tmp)
                                  for k, v in server.get("env", {}).items()})
        peer = Peer(argv, env, tmp)
        try:
            init = peer.request("initialize", {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "airlock-corpus", "version": "1"}})
            peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            tools, cursor = [], None
            while True:
                page = peer.request("tools/list", {"cursor": cursor} if cursor else {})
                tools.extend(page.get("tools", []))
                cursor = page.get("nextCursor")
                if not cursor:
                    break
        finally:
            peer.close()
    return {
        "server": server["name"],
        "source": {"registry": server["registry"], "package": server["package"],
                   "version": server["version"]},
        "serverInfo": init.get("serverInfo"),
        "protocolVersion": init.get("protocolVersion"),
        "tools": tools,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=pathlib.Path,
                        default=pathlib.Path(tempfile.gettempdir()) / "airlock-corpus")
    parser.add_argument("--airlock", default=str(HERE.parents[2] / "target/debug/airlock"))
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    servers = json.loads((HERE / "servers.json").read_text())["servers"]
    chosen = [s for s in servers if not args.names or s["name"] in args.names]
    failed = []
    for server in chosen:
        try:
            record = collect(server, args.cache.resolve(), args.airlock)
        except Exception as err:  # report every server, then fail
            print(f"{server['name']}: {err}", file=sys.stderr)
            failed.append(server["name"])
            continue
        out = HERE / f"{server['name']}.json"
        out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        print(f"{server['name']}: {len(record['tools'])} tools -> {out.name}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
