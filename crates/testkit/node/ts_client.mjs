#!/usr/bin/env node
// An MCP agent on the official TypeScript SDK (v1, pinned in package.json), for Airlock's tests.
//
// Usage:
//   node ts_client.mjs (--url URL | --stdio COMMAND [ARG...] --) [options] [steps]
// Options:
//   --header NAME=VALUE          extra HTTP header (repeatable), e.g. Authorization=Bearer x
//   --sampling                   declare the sampling capability; answers with a fixed text
//   --elicitation                declare the elicitation capability; accepts with {"name":"airlock"}
//   --timeout MS                 request timeout (the SDK's default is 60000)
//   --reset-timeout-on-progress  reset the timeout on each progress notification
//   --max-total-timeout MS       the longest a request may take, progress or not
//   --progress                   ask for progress on tool calls (adds _meta.progressToken)
// Steps, run in order:
//   --list                       tools/list
//   --call TOOL JSON_ARGS        tools/call
//   --task-call TOOL JSON_ARGS   tools/list, then the SDK's experimental
//                                `client.experimental.tasks.callToolStream`, which calls the tool
//                                as a task (2025-11-25) when the server offers it for that tool
//
// Output: one JSON object per line on stdout: {"event":"initialized",...}, {"event":"tools",...},
// {"event":"progress",...}, {"event":"sampling",...}, {"event":"elicitation",...},
// {"event":"task_created","task":...}, {"event":"task_status","task":...},
// {"event":"result",...}, {"event":"error",...}. Exit status 0 when every step succeeded (an
// isError tool result is a success of the protocol and is printed as a result), 1 otherwise.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function parseArgs(argv) {
  const opts = { headers: {}, steps: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--url": opts.url = argv[++i]; break;
      case "--stdio": {
        const end = argv.indexOf("--", i + 1);
        if (end < 0) throw new Error("--stdio needs a terminating --");
        opts.command = argv[i + 1];
        opts.args = argv.slice(i + 2, end);
        i = end;
        break;
      }
      case "--header": {
        const [name, ...rest] = argv[++i].split("=");
        opts.headers[name] = rest.join("=");
        break;
      }
      case "--sampling": opts.sampling = true; break;
      case "--elicitation": opts.elicitation = true; break;
      case "--timeout": opts.timeout = Number(argv[++i]); break;
      case "--reset-timeout-on-progress": opts.resetTimeoutOnProgress = true; break;
      case "--max-total-timeout": opts.maxTotalTimeout = Number(argv[++i]); break;
      case "--progress": opts.progress = true; break;
      case "--list": opts.steps.push({ kind: "list" }); break;
      case "--call": opts.steps.push({ kind: "call", tool: argv[++i], args: JSON.parse(argv[++i]) }); break;
      case "--task-call": opts.steps.push({ kind: "task-call", tool: argv[++i], args: JSON.parse(argv[++i]) }); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!opts.url && !opts.command) throw new Error("give --url or --stdio");
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const capabilities = {};
  if (opts.sampling) capabilities.sampling = {};
  if (opts.elicitation) capabilities.elicitation = {};
  const client = new Client({ name: "airlock-ts-client", version: "0.0.0" }, { capabilities });
  client.onerror = (e) => process.stderr.write(`client error: ${e}\n`);

  if (opts.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      out({ event: "sampling", params: req.params });
      return {
        role: "assistant",
        content: { type: "text", text: "sampled by airlock-ts-client" },
        model: "airlock-test-model",
        stopReason: "endTurn",
      };
    });
  }
  if (opts.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      out({ event: "elicitation", params: req.params });
      return { action: "accept", content: { name: "airlock" } };
    });
  }

  const transport = opts.url
    ? new StreamableHTTPClientTransport(new URL(opts.url), { requestInit: { headers: opts.headers } })
    : new StdioClientTransport({ command: opts.command, args: opts.args, stderr: "inherit" });

  await client.connect(transport);
  out({
    event: "initialized",
    protocolVersion: transport.protocolVersion ?? null,
    serverInfo: client.getServerVersion(),
    capabilities: client.getServerCapabilities(),
  });

  const requestOptions = {};
  if (opts.timeout) requestOptions.timeout = opts.timeout;
  if (opts.resetTimeoutOnProgress) requestOptions.resetTimeoutOnProgress = true;
  if (opts.maxTotalTimeout) requestOptions.maxTotalTimeout = opts.maxTotalTimeout;
  if (opts.progress) {
    requestOptions.onprogress = (p) => out({ event: "progress", ...p });
  }

  let failed = false;
  for (const step of opts.steps) {
    try {
      if (step.kind === "list") {
        const res = await client.listTools(undefined, requestOptions);
        out({ event: "tools", names: res.tools.map((t) => t.name) });
      } else if (step.kind === "task-call") {
        // The SDK decides from the server's `tasks` capability and the tool's
        // `execution.taskSupport` (cached from tools/list) whether to ask for a task.
        await client.listTools(undefined, requestOptions);
        const stream = client.experimental.tasks.callToolStream(
          { name: step.tool, arguments: step.args },
          undefined,
          requestOptions,
        );
        for await (const message of stream) {
          switch (message.type) {
            case "taskCreated": out({ event: "task_created", task: message.task }); break;
            case "taskStatus": out({ event: "task_status", task: message.task }); break;
            case "result": out({ event: "result", tool: step.tool, result: message.result }); break;
            case "error": throw message.error;
            default: out({ event: "other", message });
          }
        }
      } else {
        const res = await client.callTool({ name: step.tool, arguments: step.args }, undefined, requestOptions);
        out({ event: "result", tool: step.tool, result: res });
      }
    } catch (e) {
      failed = true;
      out({ event: "error", step: step.kind, tool: step.tool, code: e?.code ?? null, message: String(e?.message ?? e) });
    }
  }
  if (opts.url && transport.sessionId) {
    await transport.terminateSession().catch(() => {});
  }
  await client.close();
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  out({ event: "error", step: "connect", message: String(e?.message ?? e) });
  process.exit(1);
});
