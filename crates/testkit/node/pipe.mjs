#!/usr/bin/env node
// Connects this process's stdin/stdout to a TCP port on loopback: lets an MCP client that can only
// launch a command (stdio transport) reach a stdio bridge running inside a Rust test.
// Usage: node pipe.mjs PORT
import net from "node:net";

const sock = net.connect(Number(process.argv[2]), "127.0.0.1");
process.stdin.pipe(sock);
sock.pipe(process.stdout);
sock.on("close", () => process.exit(0));
sock.on("error", (e) => {
  process.stderr.write(`pipe: ${e}\n`);
  process.exit(1);
});
