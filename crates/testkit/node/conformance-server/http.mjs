// Streamable HTTP for both protocol eras on one endpoint, `/mcp`:
//
// - 2026-07-28 requests (a per-request `_meta` envelope, or a modern `MCP-Protocol-Version`
//   header) go to the SDK's stateless handler, a fresh server per request;
// - 2025-era traffic (`initialize`, then requests with `Mcp-Session-Id`, the GET stream, DELETE)
//   goes to one sessionful transport per session, with an event store so that a client that
//   lost a stream resumes it with `Last-Event-ID` (SEP-1699).
//
// The SDK's own classifier (`classifyInboundRequest`) decides the era, so the routing cannot
// disagree with what the stateless handler expects. `Host` and `Origin` must be loopback names
// (`dns-rebinding-protection`).

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import {
    localhostHostValidation,
    localhostOriginValidation,
    NodeStreamableHTTPServerTransport,
    toNodeHandler
} from '@modelcontextprotocol/node';
import { classifyInboundRequest, createMcpHandler, isInitializeRequest } from '@modelcontextprotocol/server';

import { conformanceServer } from './features.mjs';

/**
 * The `retry:` the server sends before closing a stream mid-call (SEP-1699): how long a client
 * waits before it reconnects. Results stay in the session's event store until the session ends,
 * so a client that honours it still gets them.
 */
export const RETRY_MS = 1000;

/** Serves `/mcp` on `127.0.0.1:<port>` and resolves once it listens. */
export function serveHttp(port) {
    const modern = createMcpHandler(() => conformanceServer({ listChanged }), {
        onerror: error => console.error(`conformance-server: 2026-07-28 handler: ${error.message}`)
    });
    function listChanged(kind) {
        if (kind === 'tools') modern.notify.toolsChanged();
        else modern.notify.promptsChanged();
    }
    const modernNode = toNodeHandler(modern);
    const sessions = new Sessions(listChanged);
    const hostOk = localhostHostValidation();
    const originOk = localhostOriginValidation();

    const server = createServer(async (req, res) => {
        try {
            // The guards answer 403 themselves.
            if (!hostOk(req, res) || !originOk(req, res)) return;
            if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/mcp') {
                return plain(res, 404, 'not found: the endpoint is /mcp');
            }
            if (req.method !== 'POST') return await sessions.handle(req, res, undefined);
            const raw = await readBody(req);
            let body;
            try {
                body = raw.length === 0 ? undefined : JSON.parse(raw);
            } catch {
                return rpcError(res, 400, -32700, 'parse error: the body is not JSON');
            }
            const era = classifyInboundRequest({
                httpMethod: 'POST',
                protocolVersionHeader: header(req, 'mcp-protocol-version'),
                mcpMethodHeader: header(req, 'mcp-method'),
                body
            });
            if (era.kind !== 'legacy') return await modernNode(req, res, body);
            return await sessions.handle(req, res, body);
        } catch (error) {
            console.error(`conformance-server: ${req.method} failed: ${error.stack ?? error}`);
            if (!res.headersSent) rpcError(res, 500, -32603, 'internal error');
        }
    });
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve(server));
    });
}

/** 2025-era sessions: one server and one transport each, removed when the session ends. */
class Sessions {
    constructor(listChanged) {
        this.listChanged = listChanged;
        this.transports = new Map();
    }

    async handle(req, res, body) {
        const id = header(req, 'mcp-session-id');
        if (id !== undefined) {
            const transport = this.transports.get(id);
            if (transport === undefined) return rpcError(res, 404, -32001, `session not found: \`${id}\``);
            return transport.handleRequest(req, res, body);
        }
        if (req.method === 'POST' && isInitializeRequest(body)) return this.open(req, res, body);
        return rpcError(res, 400, -32000, 'bad request: no `Mcp-Session-Id` (initialize first)');
    }

    async open(req, res, body) {
        const server = conformanceServer({ listChanged: this.listChanged });
        const transport = new NodeStreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            eventStore: new EventStore(),
            retryInterval: RETRY_MS,
            onsessioninitialized: id => this.transports.set(id, transport)
        });
        transport.onclose = () => {
            if (transport.sessionId !== undefined) this.transports.delete(transport.sessionId);
            server.close().catch(() => {});
        };
        await server.connect(transport);
        return transport.handleRequest(req, res, body);
    }
}

/**
 * The messages sent on a session's SSE streams, so a stream can be resumed after any of them.
 * Event ids are `<stream>#<n>`, `n` counting up per session.
 */
class EventStore {
    constructor() {
        this.events = [];
    }

    async storeEvent(streamId, message) {
        const eventId = `${streamId}#${this.events.length}`;
        this.events.push({ eventId, streamId, message });
        return eventId;
    }

    async getStreamIdForEventId(eventId) {
        return this.events.find(event => event.eventId === eventId)?.streamId;
    }

    async replayEventsAfter(lastEventId, { send }) {
        const at = this.events.findIndex(event => event.eventId === lastEventId);
        if (at < 0) throw new Error(`unknown event id \`${lastEventId}\``);
        const { streamId } = this.events[at];
        for (const event of this.events.slice(at + 1)) {
            if (event.streamId === streamId) await send(event.eventId, event.message);
        }
        return streamId;
    }
}

function header(req, name) {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
}

async function readBody(req) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
}

function plain(res, status, message) {
    res.writeHead(status, { 'content-type': 'text/plain' }).end(message);
}

function rpcError(res, status, code, message) {
    res.writeHead(status, { 'content-type': 'application/json' }).end(
        JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } })
    );
}
