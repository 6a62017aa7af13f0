// Addresses inside the page: `#/approvals/<id>` opens the Approvals view on one request (the desktop
// app sets it when a notification's body is clicked).

/** The `<id>` of `#/approvals/<id>` (what a notification's body opens), if any. */
export function approvalIdOf(hash: string): string | null {
  const m = /^#\/approvals\/([^/?#]+)/.exec(hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** The `<server>` of `#/policies/create/<server>` (the Create-a-policy view), if any. */
export function createPolicyServerOf(hash: string): string | null {
  const m = /^#\/policies\/create\/([^/?#]+)/.exec(hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** The address of the Create-a-policy view for `server`. */
export function createPolicyHref(server: string): string {
  return `#/policies/create/${encodeURIComponent(server)}`;
}
