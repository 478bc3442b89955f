/**
 * Keeps one app's responses from acting for another in a browser. On the shared path form
 * (`/apps/:app/functions/...`) every app shares the platform's origin: its responses are
 * sandboxed (`Content-Security-Policy: sandbox`, so a page gets an opaque origin and no script
 * access to the platform's), never MIME-sniffed, and may not set cookies. On an app's own host a
 * cookie may name no Domain but that host, so it cannot reach other apps' hosts.
 */

/** Where a response is served from. */
export type ResponseOrigin = { shared: true } | { shared: false; host: string };

/** Applies the origin rules to `response` in place; returns why each dropped cookie was dropped. */
export function isolateResponse(response: Response, origin: ResponseOrigin): string[] {
  const dropped: string[] = [];
  const cookies = response.headers.getSetCookie();
  if (origin.shared) {
    response.headers.set("content-security-policy", "sandbox");
    response.headers.set("x-content-type-options", "nosniff");
    if (cookies.length > 0) {
      response.headers.delete("set-cookie");
      dropped.push(
        `${cookies.length} Set-Cookie header(s) dropped: on the shared /apps/<app>/functions URL ` +
          "every app shares one origin; set cookies from the app's own host",
      );
    }
    return dropped;
  }
  response.headers.set("x-content-type-options", "nosniff");
  const kept = cookies.filter((cookie) => {
    const domain = cookieDomain(cookie);
    if (domain === null || domain === origin.host) return true;
    dropped.push(
      `a Set-Cookie header with Domain=${domain.slice(0, 256)} was dropped: it would reach ` +
        `hosts other than ${origin.host}`,
    );
    return false;
  });
  if (kept.length !== cookies.length) {
    response.headers.delete("set-cookie");
    for (const cookie of kept) response.headers.append("set-cookie", cookie);
  }
  return dropped;
}

/** The Domain attribute of a Set-Cookie value, lower-case without a leading dot, or null. */
function cookieDomain(cookie: string): string | null {
  let domain: string | null = null;
  for (const part of cookie.split(";").slice(1)) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim().toLowerCase() !== "domain") continue;
    domain = part.slice(eq + 1).trim().toLowerCase().replace(/^\./, "");
  }
  return domain;
}
