/**
 * Keeps one app's responses from acting for another in a browser. On the shared path form
 * (`/apps/:app/functions/...`) every app shares the platform's origin: its responses are
 * sandboxed (`Content-Security-Policy: sandbox`, so a page gets an opaque origin and no script
 * access to the platform's), never MIME-sniffed, and may not set cookies or any header that acts
 * on the whole origin (HSTS, Alt-Svc, reporting, service-worker scope, agent clustering, client
 * hints). On an app's own host a cookie may name no Domain but that host, so it cannot reach
 * other apps' hosts. `Clear-Site-Data` is dropped on both forms: it acts on the whole
 * registrable domain's cookies, so one app could sign users out of every other.
 */

/** Where a response is served from. */
export type ResponseOrigin = { shared: true } | { shared: false; host: string };

/** One header (or header value) taken out of a function's response, and why. */
export interface HeaderDrop {
  /** The header's lower-case name. */
  header: string;
  /** Why it was dropped, for the app's log. */
  reason: string;
}

/** Dropped from every function response: it clears storage beyond the app's own host. */
const DROPPED_EVERYWHERE = ["clear-site-data"];

/** Dropped on the shared path form too: each acts on the platform's whole origin or host. */
const DROPPED_ON_SHARED = [
  "strict-transport-security",
  "alt-svc",
  "nel",
  "report-to",
  "reporting-endpoints",
  "service-worker-allowed",
  "origin-agent-cluster",
  "accept-ch",
];

/** Applies the origin rules to `response` in place; returns what was dropped and why. */
export function isolateResponse(response: Response, origin: ResponseOrigin): HeaderDrop[] {
  const dropped: HeaderDrop[] = [];
  for (
    const header of origin.shared
      ? [...DROPPED_EVERYWHERE, ...DROPPED_ON_SHARED]
      : DROPPED_EVERYWHERE
  ) {
    if (!response.headers.has(header)) continue;
    response.headers.delete(header);
    dropped.push({
      header,
      reason: header === "clear-site-data"
        ? "a Clear-Site-Data header was dropped: it would clear storage and cookies of other " +
          "apps on the shared domain"
        : `a ${header} header was dropped: on the shared /apps/<app>/functions URL it would act ` +
          "for every app and the platform; send it from the app's own host",
    });
  }
  const cookies = response.headers.getSetCookie();
  if (origin.shared) {
    response.headers.set("content-security-policy", "sandbox");
    response.headers.set("x-content-type-options", "nosniff");
    if (cookies.length > 0) {
      response.headers.delete("set-cookie");
      dropped.push({
        header: "set-cookie",
        reason: `${cookies.length} Set-Cookie header(s) dropped: on the shared ` +
          "/apps/<app>/functions URL every app shares one origin; set cookies from the app's own " +
          "host",
      });
    }
    return dropped;
  }
  response.headers.set("x-content-type-options", "nosniff");
  const kept = cookies.filter((cookie) => {
    const domain = cookieDomain(cookie);
    if (domain === null || domain === origin.host) return true;
    dropped.push({
      header: "set-cookie",
      reason: `a Set-Cookie header with Domain=${domain.slice(0, 256)} was dropped: it would ` +
        `reach hosts other than ${origin.host}`,
    });
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
