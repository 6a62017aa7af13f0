// The one place that knows how the UI reaches Airlock's local API.
//
// In the desktop app the Tauri command `api_info` gives `{baseUrl, token}`. In a browser the API is
// the page's own origin and the token comes once in the address (`#token=…`, as printed by
// `airlock serve`); it is kept in sessionStorage and removed from the address bar so it does not
// end up in bookmarks or screenshots. Every request sends `Authorization: Bearer`, the event stream
// too (live.ts follows it).

import type { Diagnostic, ErrorBody } from "./bindings/api";

export interface ApiInfo {
  baseUrl: string;
  token: string;
}

interface TauriGlobal {
  core: { invoke: (cmd: string, args?: Record<string, unknown>) => Promise<unknown> };
}

declare global {
  interface Window {
    __TAURI__?: TauriGlobal;
  }
}

const TOKEN_KEY = "airlock.apiToken";

/** An answer other than 2xx, with the API's `{error: {code, message}}` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly diagnostics: Diagnostic[] = [],
  ) {
    super(message);
  }
}

/** Reads `token` from a location hash such as `#token=abc` or `#/history?token=abc`. */
export function tokenFromHash(hash: string): string | null {
  const match = /[#&?]token=([^&]+)/.exec(hash);
  return match ? decodeURIComponent(match[1]) : null;
}

let infoPromise: Promise<ApiInfo> | null = null;

async function resolveInfo(): Promise<ApiInfo> {
  if (window.__TAURI__?.core) {
    const info = (await window.__TAURI__.core.invoke("api_info")) as ApiInfo;
    return { baseUrl: info.baseUrl.replace(/\/$/, ""), token: info.token };
  }
  const fromHash = tokenFromHash(window.location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    const route = window.location.hash.startsWith("#/") ? window.location.hash.replace(/[?&]token=[^&]*/, "") : "#/approvals";
    history.replaceState(null, "", window.location.pathname + window.location.search + route);
  }
  return { baseUrl: window.location.origin, token: sessionStorage.getItem(TOKEN_KEY) ?? "" };
}

/** The API's address and token (resolved once). */
export function apiInfo(): Promise<ApiInfo> {
  infoPromise ??= resolveInfo();
  return infoPromise;
}

/** Whether a browser session has a token at all (the app always has one). */
export async function hasToken(): Promise<boolean> {
  return (await apiInfo()).token !== "";
}

async function errorFrom(res: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> | null = null;
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    body = null;
  }
  const e = body?.error;
  return new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `${res.status} ${res.statusText}`, e?.diagnostics ?? []);
}

/** One JSON request to the API. Resolves to the parsed body (undefined for 204). */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const { baseUrl, token } = await apiInfo();
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Downloads `path` (with the token) and hands it to the browser as a file named `filename`. */
export async function download(path: string, filename: string): Promise<void> {
  const { baseUrl, token } = await apiInfo();
  const res = await fetch(baseUrl + path, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw await errorFrom(res);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
