/** The id rules: what an app id and an environment may be, and how ids are made. */
import assert from "node:assert/strict";
import {
  APP_ID,
  appEnvKey,
  DEPLOYMENT_ID,
  ENVIRONMENT,
  newId,
  parseAppEnvKey,
} from "../../runtime/ids.ts";

Deno.test("an app id is a DNS label: single inner hyphens, 1-62 characters", () => {
  for (const ok of ["a", "shop", "a-b", "a1-b2-c3", "x".repeat(62)]) assert.ok(APP_ID.test(ok), ok);
  for (const bad of ["", "-a", "a-", "a--b", "A", "a_b", "a.b", "x".repeat(63), "a\n"]) {
    assert.ok(!APP_ID.test(bad), JSON.stringify(bad));
  }
});

Deno.test("an environment is 1-32 characters of a-z, 0-9 and -", () => {
  for (const ok of ["production", "pr-42", "x".repeat(32)]) assert.ok(ENVIRONMENT.test(ok), ok);
  for (const bad of ["", "Prod", "a b", "x".repeat(33)]) assert.ok(!ENVIRONMENT.test(bad), bad);
});

Deno.test("new ids sort by creation time and deployment ids have their shape", async () => {
  const first = newId("dpl");
  await new Promise((resolve) => setTimeout(resolve, 2));
  const second = newId("dpl");
  assert.match(first, DEPLOYMENT_ID);
  assert.ok(first < second);
  assert.notEqual(newId("req"), newId("req"));
});

Deno.test("an app environment key splits back into its parts", () => {
  assert.deepEqual(parseAppEnvKey(appEnvKey("shop", "pr-1")), {
    appId: "shop",
    environment: "pr-1",
  });
});
