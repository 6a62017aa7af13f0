// Typed calls of the local API (the routes of crates/api; types from the generated bindings).

import type {
  Access,
  AccessChange,
  Approval,
  BulkDecideRequest,
  BulkDecideResponse,
  CallPage,
  Call,
  CreateGrant,
  DecideRequest,
  Grant,
  GrantToken,
  HistoryQuery,
  PassphraseState,
  SetPassphrase,
  PolicyDoc,
  Remembered,
  StagedChange,
  SetAccess,
  Stats,
  Status,
  ToolPreview,
  Validation,
} from "./bindings/api";
import type { ImportDone, ImportPreview, ImportScan, SavedPolicy, Starter } from "./bindings/onboarding";
import type { PinDecision, ToolPin, ToolPinEvent } from "./bindings/pins";
import { request } from "./transport";

/** `?a=1&b=2` from the defined, non-empty fields of `q`. */
export function queryString(q: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === "") continue;
    params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

const enc = encodeURIComponent;

export const api = {
  status: () => request<Status>("GET", "/api/status"),
  pause: (paused: boolean) => request<Status>("POST", "/api/pause", { paused }),
  approvals: () => request<Approval[]>("GET", "/api/approvals"),
  decide: (id: string, body: DecideRequest) => request<Approval>("POST", `/api/approvals/${enc(id)}/decide`, body),
  bulk: (body: BulkDecideRequest) => request<BulkDecideResponse>("POST", "/api/approvals/bulk", body),
  remembered: () => request<Remembered[]>("GET", "/api/remembered"),
  revokeRemembered: (id: string) => request<void>("DELETE", `/api/remembered/${enc(id)}`),
  history: (q: HistoryQuery) => request<CallPage>("GET", `/api/history${queryString(q)}`),
  call: (id: number) => request<Call>("GET", `/api/history/${id}`),
  stats: (q: HistoryQuery) => request<Stats>("GET", `/api/history/stats${queryString(q)}`),
  policies: () => request<PolicyDoc[]>("GET", "/api/policies"),
  validate: (text: string) => request<Validation>("POST", "/api/policies/validate", { text }),
  savePolicy: (id: string, text: string) => request<PolicyDoc>("PUT", `/api/policies/${enc(id)}`, { text }),
  stagedPolicies: () => request<StagedChange[]>("GET", "/api/policies/staged"),
  applyStaged: (id: string, revision: string) =>
    request<StagedChange>("POST", `/api/policies/${enc(id)}/apply`, { revision }),
  discardStaged: (id: string, revision: string) =>
    request<StagedChange>("POST", `/api/policies/${enc(id)}/discard`, { revision }),
  tools: (server: string) => request<ToolPreview[]>("GET", `/api/servers/${enc(server)}/tools`),
  grants: () => request<Grant[]>("GET", "/api/grants"),
  createGrant: (body: CreateGrant) => request<GrantToken>("POST", "/api/grants", body),
  rotateGrant: (name: string) => request<GrantToken>("POST", `/api/grants/${enc(name)}/rotate`),
  revokeGrant: (name: string) => request<void>("DELETE", `/api/grants/${enc(name)}`),
  starter: (server: string) => request<Starter>("GET", `/api/servers/${enc(server)}/starter`),
  createPolicy: (server: string, text: string) => request<SavedPolicy>("PUT", `/api/servers/${enc(server)}/policy`, { text }),
  importScan: () => request<ImportScan>("GET", "/api/import"),
  importPreview: (servers: string[]) => request<ImportPreview>("POST", "/api/import/preview", { servers }),
  importApply: (servers: string[]) => request<ImportDone>("POST", "/api/import/apply", { servers }),
  importUndo: (force = false) => request<ImportDone>("POST", "/api/import/undo", { force }),
  toolPins: (server?: string) => request<ToolPin[]>("GET", `/api/tool-pins${queryString({ server })}`),
  toolPinHistory: (server?: string, tool?: string) =>
    request<ToolPinEvent[]>("GET", `/api/tool-pins/history${queryString({ server, tool })}`),
  acceptTool: (server: string, tool: string, body: PinDecision) =>
    request<ToolPin>("POST", `/api/tool-pins/${enc(server)}/${enc(tool)}/accept`, body),
  rejectTool: (server: string, tool: string, body: PinDecision) =>
    request<ToolPin>("POST", `/api/tool-pins/${enc(server)}/${enc(tool)}/reject`, body),
  access: () => request<Access>("GET", "/api/access"),
  setAccess: (body: SetAccess) => request<AccessChange>("PUT", "/api/access", body),
  passphrase: () => request<PassphraseState>("GET", "/api/passphrase"),
  setPassphrase: (body: SetPassphrase) => request<PassphraseState>("PUT", "/api/passphrase", body),
};
