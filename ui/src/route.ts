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
