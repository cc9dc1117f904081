// Where the login page may send a signed-in user: pages of this server only.

/**
 * Return `next` as a path on `origin` ("/map?x=1#y"), or `fallback` when it would
 * leave `origin`. The browser's own URL parser decides (it reads "/\\evil.example",
 * "/\t/evil.example" and "https:evil.example" as other hosts), not a prefix check.
 */
export function sameOriginPath(next, origin, fallback = "/map") {
  if (typeof next !== "string" || !next.startsWith("/")) return fallback;
  let url;
  try {
    url = new URL(next, origin);
  } catch {
    return fallback;
  }
  if (url.origin !== new URL(origin).origin) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
