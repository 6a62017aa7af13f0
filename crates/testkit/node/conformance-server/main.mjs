#!/usr/bin/env node
// Airlock's conformance server: every tool, resource and prompt the server scenarios of
// `@modelcontextprotocol/conformance` call, for measuring Airlock against the suite (directly
// and through `airlock serve`). Our own code on the official TypeScript SDK v2
// (`@modelcontextprotocol/server`), which serves the 2025-era session protocol and the
// stateless 2026-07-28 protocol from one server definition.
//
//   node main.mjs --port <port>   Streamable HTTP at http://127.0.0.1:<port>/mcp
//   node main.mjs --stdio         stdio (one client, newline-delimited JSON-RPC; the first
//                                 message picks the protocol era for the connection)
//
// The port may also come from `CONFORMANCE_PORT`. Over HTTP it prints
// `conformance-server listening on http://127.0.0.1:<port>/mcp` once ready.

import { serveStdio } from '@modelcontextprotocol/server/stdio';

import { conformanceServer } from './features.mjs';
import { serveHttp } from './http.mjs';

const USAGE = 'usage: main.mjs --port <port> | --stdio  (or CONFORMANCE_PORT=<port>)';

async function main(args) {
    if (args.includes('--stdio')) {
        // The opening message picks the era for the connection (`initialize`: 2025-era; a
        // request with a 2026-07-28 `_meta` envelope: stateless), as the SDK's stdio entry does.
        await serveStdio(() => conformanceServer());
        return;
    }
    const at = args.indexOf('--port');
    const given = at >= 0 ? args[at + 1] : process.env.CONFORMANCE_PORT;
    const port = Number(given);
    if (given === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`no valid port (\`${given ?? ''}\`); ${USAGE}`);
    }
    const server = await serveHttp(port);
    console.log(`conformance-server listening on http://127.0.0.1:${server.address().port}/mcp`);
}

main(process.argv.slice(2)).catch(error => {
    console.error(`conformance-server: ${error.message}`);
    process.exit(2);
});
