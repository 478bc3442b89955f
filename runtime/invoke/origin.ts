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
const DROPPED_EVERYWHERE = new Set(["clear-site-data"]);

/** Dropped on the shared path form: each acts on the platform's whole origin or host. */
const DROPPED_ON_SHARED = new Set([
  ...DROPPED_EVERYWHERE,
  "strict-transport-security",
  "alt-svc",
  "nel",
  "report-to",
  "reporting-endpoints",
  "service-worker-allowed",
  "origin-agent-cluster",
  "accept-ch",
]);

/** What the platform sets itself on each form, in place of any value the function gave. */
const OWN_HOST_HEADERS: ReadonlyArray<[string, string]> = [["x-content-type-options", "nosniff"]];
const SHARED_HEADERS: ReadonlyArray<[string, string]> = [
  ["content-security-policy", "sandbox"],
  ["x-content-type-options", "nosniff"],
];

/** Why `header` was dropped, for the app's log. */
function dropReason(header: string): string {
  return header === "clear-site-data"
    ? "a Clear-Site-Data header was dropped: it would clear storage and cookies of other " +
      "apps on the shared domain"
    : `a ${header} header was dropped: on the platform's host, which every app shares ` +
      "(/apps/<app>/functions/...), it would act for every app and the platform; send it from " +
      "the app's own host (<app>.<BASE_DOMAIN>)";
}

/**
 * Applies the origin rules to a function's header pairs (names lower-case, in order): answers
 * the pairs to send, the platform's own for this origin last, and what was dropped and why (one
 * drop per header name; Set-Cookie on the shared form one for all, on an app's host one per
 * cookie whose Domain reaches other hosts). One pass over plain pairs: a `Headers` lookup per
 * rule would cost more than the rest of the response.
 */
export function isolateHeaders(
  pairs: ReadonlyArray<[string, string]>,
  origin: ResponseOrigin,
): { headers: Array<[string, string]>; dropped: HeaderDrop[] } {
  const dropping = origin.shared ? DROPPED_ON_SHARED : DROPPED_EVERYWHERE;
  const own = origin.shared ? SHARED_HEADERS : OWN_HOST_HEADERS;
  const headers: Array<[string, string]> = [];
  const dropped: HeaderDrop[] = [];
  let sharedCookies = 0;
  for (const pair of pairs) {
    const [name, value] = pair;
    if (dropping.has(name)) {
      if (!dropped.some((drop) => drop.header === name)) {
        dropped.push({ header: name, reason: dropReason(name) });
      }
      continue;
    }
    if (own.some(([header]) => header === name)) continue;
    if (name === "set-cookie") {
      if (origin.shared) {
        sharedCookies++;
        continue;
      }
      const domain = cookieDomain(value);
      if (domain !== null && domain !== origin.host) {
        dropped.push({
          header: "set-cookie",
          reason: `a Set-Cookie header with Domain=${domain.slice(0, 256)} was dropped: it ` +
            `would reach hosts other than ${origin.host}`,
        });
        continue;
      }
    }
    headers.push(pair);
  }
  if (sharedCookies > 0) {
    dropped.push({
      header: "set-cookie",
      reason: `${sharedCookies} Set-Cookie header(s) dropped: on the platform's host ` +
        "(/apps/<app>/functions/...) every app shares one origin; set cookies from the app's own " +
        "host (<app>.<BASE_DOMAIN>)",
    });
  }
  for (const pair of own) headers.push([pair[0], pair[1]]);
  return { headers, dropped };
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
