// The tools, resources and prompts the conformance suite's server scenarios call, by the names
// and with the behaviours the scenarios ask for (read from the scenario descriptions of
// `@modelcontextprotocol/conformance`; `conformance list` names them). One `McpServer` factory
// serves both protocol eras: a 2025-era session pushes sampling and elicitation requests to the
// client, a 2026-07-28 request gets the same questions back as an `input_required` result
// (`inputs.mjs`).

import { fromJsonSchema, McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import * as z from 'zod/v4';

import { registerInputTools, requestStateCodec } from './inputs.mjs';

/** A 1x1 PNG and a WAV file with one sample: the smallest valid media the checks accept. */
export const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
export const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

const NO_ARGS = fromJsonSchema({ type: 'object', properties: {} });
const text = value => ({ type: 'text', text: value });
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Tools that answer with fixed content, by name: [description, content].
 * `tools-call-*` compares these literally.
 */
const FIXED_TOOLS = {
    test_simple_text: ['Answers with one text block', [text('This is a simple text response for testing.')]],
    test_image_content: ['Answers with a PNG image', [{ type: 'image', data: PNG, mimeType: 'image/png' }]],
    test_audio_content: ['Answers with a WAV clip', [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }]],
    test_embedded_resource: [
        'Answers with an embedded text resource',
        [
            {
                type: 'resource',
                resource: {
                    uri: 'test://embedded-resource',
                    mimeType: 'text/plain',
                    text: 'This is an embedded resource content.'
                }
            }
        ]
    ],
    test_multiple_content_types: [
        'Answers with text, an image and an embedded resource',
        [
            text('Multiple content types test:'),
            { type: 'image', data: PNG, mimeType: 'image/png' },
            {
                type: 'resource',
                resource: {
                    uri: 'test://mixed-content-resource',
                    mimeType: 'application/json',
                    text: JSON.stringify({ test: 'data', value: 123 })
                }
            }
        ]
    ],
    // `server-stateless` (2026-07-28) checks that a plain call's response stream carries no
    // request of the server's own; the client it runs as declares no elicitation capability.
    test_streaming_elicitation: ['Answers without asking the client anything', [text('answered without a server request')]]
};

/** The schema `elicitation-sep1034-defaults` checks: a default for every primitive type. */
const DEFAULTS_SCHEMA = {
    type: 'object',
    properties: {
        name: { type: 'string', description: 'Name', default: 'John Doe' },
        age: { type: 'integer', description: 'Age', default: 30 },
        score: { type: 'number', description: 'Score', default: 95.5 },
        status: { type: 'string', description: 'Status', enum: ['active', 'inactive', 'pending'], default: 'active' },
        verified: { type: 'boolean', description: 'Verified', default: true }
    },
    required: []
};

/** The schema `elicitation-sep1330-enums` checks: the five enum forms of SEP-1330. */
const choices = (prefix, titles) => titles.map((title, i) => ({ const: `${prefix}${i + 1}`, title }));
const ENUMS_SCHEMA = {
    type: 'object',
    properties: {
        untitledSingle: { type: 'string', description: 'One option', enum: ['option1', 'option2', 'option3'] },
        titledSingle: {
            type: 'string',
            description: 'One option, titled',
            oneOf: choices('value', ['First Option', 'Second Option', 'Third Option'])
        },
        legacyEnum: {
            type: 'string',
            description: 'One option, titled the deprecated way',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three']
        },
        untitledMulti: {
            type: 'array',
            description: 'Several options',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] }
        },
        titledMulti: {
            type: 'array',
            description: 'Several options, titled',
            items: { anyOf: choices('value', ['First Choice', 'Second Choice', 'Third Choice']) }
        }
    },
    required: []
};

/** The input schema `json-schema-2020-12` expects to come back from `tools/list` unchanged. */
const SCHEMA_2020_12 = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    $defs: {
        address: {
            $anchor: 'addressDef',
            type: 'object',
            properties: { street: { type: 'string' }, city: { type: 'string' } }
        }
    },
    properties: {
        name: { type: 'string' },
        address: { $ref: '#/$defs/address' },
        contactMethod: { type: 'string', enum: ['phone', 'email'] },
        phone: { type: 'string' },
        email: { type: 'string' }
    },
    allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
    if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
    then: { required: ['phone'] },
    else: { required: ['email'] },
    additionalProperties: false
};

/**
 * A fresh server with every feature. `hooks` lets the transport front react to what a tool
 * asks for: `listChanged(kind)` publishes a `tools`/`prompts` list change to 2026-07-28
 * `subscriptions/listen` streams.
 */
export function conformanceServer(hooks = {}) {
    const server = new McpServer(
        { name: 'airlock-conformance-server', version: '1.0.0' },
        {
            capabilities: {
                tools: { listChanged: true },
                resources: { subscribe: true, listChanged: true },
                prompts: { listChanged: true },
                // Still declared for 2025-era sessions (`logging/setLevel`); 2026-07-28 ignores it.
                logging: {},
                completions: {}
            },
            // Refuses a tampered or expired `requestState` with -32602 before any handler runs.
            requestState: { verify: requestStateCodec.verify }
        }
    );
    registerTools(server, hooks);
    registerInputTools(server);
    registerResources(server);
    registerPrompts(server);
    // `completion-complete` only checks the shape of the answer.
    server.server.setRequestHandler('completion/complete', async () => ({
        completion: { values: [], total: 0, hasMore: false }
    }));
    return server;
}

function registerTools(server, hooks) {
    for (const [name, [description, content]] of Object.entries(FIXED_TOOLS)) {
        server.registerTool(name, { description, inputSchema: NO_ARGS }, async () => ({ content }));
    }

    server.registerTool('test_error_handling', { description: 'Always fails', inputSchema: NO_ARGS }, async () => ({
        isError: true,
        content: [text('This tool intentionally returns an error for testing')]
    }));

    server.registerTool(
        'test_tool_with_logging',
        { description: 'Logs three info messages 50 ms apart', inputSchema: NO_ARGS },
        async (_args, ctx) => {
            for (const [i, message] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
                if (i > 0) await sleep(50);
                await ctx.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', data: message } });
            }
            return { content: [text('Logged three messages')] };
        }
    );

    // `server-stateless` checks that nothing is logged when the request's _meta has no logLevel:
    // `log` is the channel that honours it.
    server.registerTool(
        'test_logging_tool',
        { description: 'Logs through the level-filtered channel', inputSchema: NO_ARGS },
        async (_args, ctx) => {
            await ctx.mcpReq.log('info', 'test_logging_tool ran');
            return { content: [text('logged at info, if the client asked for it')] };
        }
    );

    server.registerTool(
        'test_tool_with_progress',
        { description: 'Reports progress 0, 50 and 100 of 100, 50 ms apart', inputSchema: NO_ARGS },
        async (_args, ctx) => {
            const progressToken = ctx.mcpReq._meta?.progressToken;
            for (const progress of [0, 50, 100]) {
                if (progress > 0) await sleep(50);
                // Progress only for a token the client sent (the spec forbids it otherwise).
                if (progressToken !== undefined) {
                    await ctx.mcpReq.notify({
                        method: 'notifications/progress',
                        params: { progressToken, progress, total: 100 }
                    });
                }
            }
            return { content: [text(`progress reported for token ${String(progressToken)}`)] };
        }
    );

    server.registerTool(
        'test_sampling',
        {
            description: 'Asks the client for an LLM completion of `prompt`',
            inputSchema: fromJsonSchema({
                type: 'object',
                properties: { prompt: { type: 'string', description: 'The prompt for the LLM' } },
                required: ['prompt']
            })
        },
        async ({ prompt }, ctx) => {
            const answer = await ctx.mcpReq.requestSampling({
                messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
                maxTokens: 100
            });
            return { content: [text(`LLM response: ${answer.content?.text ?? JSON.stringify(answer.content)}`)] };
        }
    );

    // Sampling and elicitation go out as requests of the session, not of the call (the SDK's
    // `requestSampling`/`elicitInput`), so they travel on the session's GET stream, as the stable
    // suite's reference server sends them: a relay must have that stream open before it forwards
    // the call, or the question is lost.
    const elicitTool = (name, description, inputSchema, params) =>
        server.registerTool(name, { description, inputSchema }, async (args, ctx) => {
            const answer = await ctx.mcpReq.elicitInput(params(args));
            return {
                content: [text(`Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`)]
            };
        });
    elicitTool(
        'test_elicitation',
        'Asks the user, through the client, for a username and an email address',
        fromJsonSchema({
            type: 'object',
            properties: { message: { type: 'string', description: 'The message shown to the user' } },
            required: ['message']
        }),
        ({ message }) => ({
            message,
            requestedSchema: {
                type: 'object',
                properties: {
                    username: { type: 'string', description: "User's response" },
                    email: { type: 'string', description: "User's email address" }
                },
                required: ['username', 'email']
            }
        })
    );
    elicitTool('test_elicitation_sep1034_defaults', 'Elicits a form with defaults (SEP-1034)', NO_ARGS, () => ({
        message: 'Please review the defaults',
        requestedSchema: DEFAULTS_SCHEMA
    }));
    elicitTool('test_elicitation_sep1330_enums', 'Elicits the five enum forms (SEP-1330)', NO_ARGS, () => ({
        message: 'Please pick options',
        requestedSchema: ENUMS_SCHEMA
    }));

    server.registerTool(
        'json_schema_2020_12_tool',
        { description: 'Has a JSON Schema 2020-12 input schema', inputSchema: fromJsonSchema(SCHEMA_2020_12) },
        async args => ({ content: [text(`called with ${JSON.stringify(args)}`)] })
    );

    // `http-custom-header-server-validation` (SEP-2243): `region` is mirrored into the
    // `Mcp-Param-Region` header, which the SDK checks against the body.
    server.registerTool(
        'test_x_mcp_header',
        {
            description: 'Has an argument mirrored into an HTTP header (SEP-2243)',
            inputSchema: fromJsonSchema({
                type: 'object',
                properties: {
                    region: { type: 'string', description: 'Mirrored into Mcp-Param-Region', 'x-mcp-header': 'Region' },
                    level: { type: 'integer', description: 'Not mirrored' }
                }
            })
        },
        async ({ region }) => ({ content: [text(`region=${region ?? 'none'}`)] })
    );

    // `server-sse-polling` (SEP-1699): the server ends the call's SSE stream before the result;
    // the client comes back with `Last-Event-ID` and gets the result replayed from the event store.
    server.registerTool(
        'test_reconnection',
        { description: 'Closes its SSE stream mid-call, then answers (SEP-1699)', inputSchema: NO_ARGS },
        async (_args, ctx) => {
            ctx.http?.closeSSE?.();
            await sleep(100);
            return { content: [text('Reconnection test completed: the result arrived after the stream was closed.')] };
        }
    );

    // `server-stateless` (2026-07-28) opens `subscriptions/listen`, calls these and expects the
    // list change on the stream; a 2025-era session gets the notification on its own stream.
    for (const kind of ['tools', 'prompts']) {
        const singular = kind.slice(0, -1);
        server.registerTool(
            `test_trigger_${singular}_change`,
            { description: `Announces that the ${kind} list changed`, inputSchema: NO_ARGS },
            async () => {
                hooks.listChanged?.(kind);
                return { content: [text(`${kind} list change announced`)] };
            }
        );
    }
}

function registerResources(server) {
    const fixed = (name, uri, description, mimeType, body) =>
        server.registerResource(name, uri, { description, mimeType }, async () => ({
            contents: [{ uri, mimeType, ...body }]
        }));
    fixed('static-text', 'test://static-text', 'A text resource', 'text/plain', {
        text: 'This is the content of the static text resource.'
    });
    fixed('static-binary', 'test://static-binary', 'A binary resource (a PNG image)', 'image/png', { blob: PNG });
    fixed('watched-resource', 'test://watched-resource', 'A resource to subscribe to', 'text/plain', {
        text: 'Watched resource content'
    });
    server.registerResource(
        'template',
        new ResourceTemplate('test://template/{id}/data', { list: undefined }),
        { description: 'JSON data for an id', mimeType: 'application/json' },
        async (uri, { id }) => ({
            contents: [
                {
                    uri: uri.toString(),
                    mimeType: 'application/json',
                    text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` })
                }
            ]
        })
    );
    // `resources-subscribe` / `resources-unsubscribe` only check the empty answers; the set is what
    // a server that announced updates would consult.
    const subscribed = new Set();
    server.server.setRequestHandler('resources/subscribe', async request => {
        subscribed.add(request.params.uri);
        return {};
    });
    server.server.setRequestHandler('resources/unsubscribe', async request => {
        subscribed.delete(request.params.uri);
        return {};
    });
}

function registerPrompts(server) {
    const user = content => ({ role: 'user', content });
    server.registerPrompt('test_simple_prompt', { description: 'A prompt without arguments' }, async () => ({
        messages: [user(text('This is a simple prompt for testing.'))]
    }));
    server.registerPrompt(
        'test_prompt_with_arguments',
        {
            description: 'A prompt with two arguments',
            argsSchema: z.object({
                arg1: z.string().describe('First test argument'),
                arg2: z.string().describe('Second test argument')
            })
        },
        async ({ arg1, arg2 }) => ({ messages: [user(text(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`))] })
    );
    server.registerPrompt(
        'test_prompt_with_embedded_resource',
        {
            description: 'A prompt that embeds a resource',
            argsSchema: z.object({ resourceUri: z.string().describe('URI of the resource to embed') })
        },
        async ({ resourceUri }) => ({
            messages: [
                user({
                    type: 'resource',
                    resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' }
                }),
                user(text('Please process the embedded resource above.'))
            ]
        })
    );
    server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, async () => ({
        messages: [user({ type: 'image', data: PNG, mimeType: 'image/png' }), user(text('Please analyze the image above.'))]
    }));
}
