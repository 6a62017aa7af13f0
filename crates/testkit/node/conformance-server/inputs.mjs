// The multi-round-trip tools and prompt of the 2026-07-28 `input-required-result-*` and
// `server-stateless` scenarios (SEP-2322): a call that needs something from the client answers
// `input_required` with the questions, and the client calls again with `inputResponses` (and
// the `requestState` it was given). `requestState` comes back from the client, so it is sealed
// with an HMAC (`requestStateCodec`) and a tampered one is refused before a handler runs.

import { randomBytes, randomUUID } from 'node:crypto';

import { acceptedContent, createRequestStateCodec, fromJsonSchema, inputRequired } from '@modelcontextprotocol/server';

/**
 * One key per process: every round of a flow is served by this process (2026-07-28 builds a
 * fresh server per request, so the key cannot live in a server).
 */
export const requestStateCodec = createRequestStateCodec({ key: randomBytes(32) });

const NO_ARGS = fromJsonSchema({ type: 'object', properties: {} });
const text = value => ({ type: 'text', text: value });
const form = (message, field, type) =>
    inputRequired.elicit({
        message,
        requestedSchema: { type: 'object', properties: { [field]: { type } }, required: [field] }
    });
const sample = (prompt, maxTokens) =>
    inputRequired.createMessage({ messages: [{ role: 'user', content: text(prompt) }], maxTokens });
const seal = payload => requestStateCodec.mint({ ...payload, nonce: randomUUID() });
const samplingText = response => response?.content?.text;

/** Registers every tool and prompt that answers `input_required`. */
export function registerInputTools(server) {
    const tool = (name, description, handler) => server.registerTool(name, { description, inputSchema: NO_ARGS }, handler);

    // Also the tool of the result-type, missing-input-response, ignore-extra-params and
    // validate-input scenarios: anything but an accepted `user_name` form asks again.
    tool('test_input_required_result_elicitation', 'Asks for the caller name (elicitation)', async (_args, ctx) => {
        const name = acceptedContent(ctx.mcpReq.inputResponses, 'user_name')?.name;
        if (typeof name !== 'string') {
            return inputRequired({ inputRequests: { user_name: form('What is your name?', 'name', 'string') } });
        }
        return { content: [text(`Hello, ${name}!`)] };
    });

    tool('test_input_required_result_sampling', 'Asks the client LLM a question (sampling)', async (_args, ctx) => {
        const answer = ctx.mcpReq.inputResponses?.capital_question;
        if (answer === undefined) {
            return inputRequired({ inputRequests: { capital_question: sample('What is the capital of France?', 100) } });
        }
        return { content: [text(`Sampling response: ${samplingText(answer) ?? JSON.stringify(answer)}`)] };
    });

    tool('test_input_required_result_list_roots', "Asks for the client's roots", async (_args, ctx) => {
        const roots = ctx.mcpReq.inputResponses?.client_roots?.roots;
        if (!Array.isArray(roots)) {
            return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
        }
        return { content: [text(`Roots: ${roots.map(root => root.uri).join(', ')}`)] };
    });

    tool('test_input_required_result_request_state', 'Asks for a confirmation and round-trips sealed state', async (_args, ctx) => {
        const confirmed = acceptedContent(ctx.mcpReq.inputResponses, 'confirm');
        // The codec verified the state before this ran; a missing one means a first round.
        if (confirmed === undefined || ctx.mcpReq.requestState()?.tool !== 'request_state') {
            return inputRequired({
                inputRequests: { confirm: form('Please confirm', 'ok', 'boolean') },
                requestState: await seal({ tool: 'request_state' })
            });
        }
        return { content: [text('state-ok: the sealed requestState came back intact')] };
    });

    tool('test_input_required_result_multiple_inputs', 'Asks for a form, a completion and the roots at once', async (_args, ctx) => {
        const responses = ctx.mcpReq.inputResponses;
        const name = acceptedContent(responses, 'user_name')?.name;
        const greeting = samplingText(responses?.greeting);
        const roots = responses?.client_roots?.roots;
        if (typeof name !== 'string' || typeof greeting !== 'string' || !Array.isArray(roots)) {
            return inputRequired({
                inputRequests: {
                    user_name: form('What is your name?', 'name', 'string'),
                    greeting: sample('Generate a greeting', 50),
                    client_roots: inputRequired.listRoots()
                },
                requestState: await seal({ tool: 'multiple_inputs' })
            });
        }
        return { content: [text(`${greeting}, ${name} (${roots.length} roots)`)] };
    });

    // The round lives in the sealed state, which changes between rounds.
    tool('test_input_required_result_multi_round', 'Asks two questions in two rounds', async (_args, ctx) => {
        const state = ctx.mcpReq.requestState();
        const round = state?.tool === 'multi_round' ? state.round : 0;
        if (round === 0) {
            return inputRequired({
                inputRequests: { step1: form('Step 1: What is your name?', 'name', 'string') },
                requestState: await seal({ tool: 'multi_round', round: 1 })
            });
        }
        if (round === 1) {
            const name = acceptedContent(ctx.mcpReq.inputResponses, 'step1')?.name ?? 'someone';
            return inputRequired({
                inputRequests: { step2: form('Step 2: What is your favorite color?', 'color', 'string') },
                requestState: await seal({ tool: 'multi_round', round: 2, name })
            });
        }
        const color = acceptedContent(ctx.mcpReq.inputResponses, 'step2')?.color ?? 'no color';
        return { content: [text(`Multi-round complete: ${state.name} likes ${color}`)] };
    });

    // A tampered state never reaches this handler: the server's `requestState.verify` refuses it.
    tool('test_input_required_result_tampered_state', 'Refuses a requestState that was altered', async (_args, ctx) => {
        if (ctx.mcpReq.requestState()?.tool === 'tampered_state' && acceptedContent(ctx.mcpReq.inputResponses, 'confirm')) {
            return { content: [text('integrity-ok: the requestState verified')] };
        }
        return inputRequired({
            inputRequests: { confirm: form('Please confirm', 'ok', 'boolean') },
            requestState: await seal({ tool: 'tampered_state' })
        });
    });

    // Asks only for what the request's declared client capabilities cover.
    tool('test_input_required_result_capabilities', 'Asks only for what the client declared', async (_args, ctx) => {
        if (ctx.mcpReq.inputResponses !== undefined) {
            return { content: [text('the declared capabilities answered')] };
        }
        const declared = ctx.mcpReq.envelope?.['io.modelcontextprotocol/clientCapabilities'] ?? {};
        const inputRequests = {};
        if (declared.elicitation !== undefined) inputRequests.user_name = form('What is your name?', 'name', 'string');
        if (declared.sampling !== undefined) inputRequests.greeting = sample('Generate a short greeting', 50);
        if (declared.roots !== undefined) inputRequests.client_roots = inputRequired.listRoots();
        if (Object.keys(inputRequests).length === 0) {
            return { content: [text('the client declared nothing to ask through')] };
        }
        return inputRequired({ inputRequests });
    });

    // `server-stateless` calls it with no client capabilities and expects -32021 (the server's
    // capability check on the sampling question it asks).
    tool('test_missing_capability', 'Needs the sampling capability', async (_args, ctx) => {
        if (ctx.mcpReq.inputResponses?.llm_answer === undefined) {
            return inputRequired({ inputRequests: { llm_answer: sample('Reply with one word: pong', 16) } });
        }
        return { content: [text('sampled')] };
    });

    // Without an args schema the prompt callback gets the context as its only argument.
    server.registerPrompt(
        'test_input_required_result_prompt',
        { description: 'A prompt that asks for context first (elicitation)' },
        async ctx => {
            const context = acceptedContent(ctx.mcpReq.inputResponses, 'user_context')?.context;
            if (typeof context !== 'string') {
                return inputRequired({
                    inputRequests: { user_context: form('What context should the prompt use?', 'context', 'string') }
                });
            }
            return { messages: [{ role: 'user', content: text(`Use the following context: ${context}`) }] };
        }
    );
}
