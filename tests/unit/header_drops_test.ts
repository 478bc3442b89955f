import assert from "node:assert/strict";
import { HeaderDropReports } from "../../runtime/invoke/header_drops.ts";

const CLEAR = { header: "clear-site-data", reason: "a Clear-Site-Data header was dropped" };
const HSTS = { header: "strict-transport-security", reason: "an HSTS header was dropped" };

Deno.test("header drops: one line per app and header a window, then the count since the last", () => {
  let now = 1_000_000;
  const reports = new HeaderDropReports(60_000, () => now);
  assert.deepEqual(reports.report("a", [CLEAR, HSTS]), [
    "a Clear-Site-Data header was dropped (1 time since the last report; reported at most once every 60 s)",
    "an HSTS header was dropped (1 time since the last report; reported at most once every 60 s)",
  ]);
  for (let i = 0; i < 4; i++) assert.deepEqual(reports.report("a", [CLEAR]), []);
  assert.equal(reports.report("b", [CLEAR]).length, 1, "another app has its own window");
  now += 59_999;
  assert.deepEqual(reports.report("a", [CLEAR]), []);
  now += 1;
  assert.deepEqual(reports.report("a", [CLEAR, HSTS]), [
    "a Clear-Site-Data header was dropped (6 times since the last report; reported at most once every 60 s)",
    "an HSTS header was dropped (1 time since the last report; reported at most once every 60 s)",
  ]);
});
