/** The route planner and matcher, without a server: files to patterns, paths to files. */
import assert from "node:assert/strict";
import { planRoutes, Router } from "../../runtime/deploy/router.ts";
import { isRouteFile } from "../../runtime/deploy/source_files.ts";

const FILES = [
  "api/index.ts",
  "api/users/index.ts",
  "api/users/me.ts",
  "api/users/[id].ts",
  "api/files/[...rest].ts",
  "api/_private.ts",
  "lib/util.ts",
];

Deno.test("route files become patterns; modules outside api/ and _-prefixed ones do not", () => {
  const { routes, problems } = planRoutes(FILES.filter(isRouteFile));
  assert.deepEqual(problems, []);
  assert.deepEqual(
    routes.map((r) => [r.pattern, r.file]).sort(),
    [
      ["/functions", "api/index.ts"],
      ["/functions/files/[...rest]", "api/files/[...rest].ts"],
      ["/functions/users", "api/users/index.ts"],
      ["/functions/users/[id]", "api/users/[id].ts"],
      ["/functions/users/me", "api/users/me.ts"],
    ],
  );
});

Deno.test("static segments beat [param], which beats [...rest]; params are decoded once", () => {
  const router = new Router(planRoutes(FILES.filter(isRouteFile)).routes);
  const match = (path: string) => {
    const found = router.match(path);
    return found && { file: found.file, params: { ...found.params } };
  };
  assert.deepEqual(match("/users/me"), { file: "api/users/me.ts", params: {} });
  assert.deepEqual(match("/users/a%20b"), { file: "api/users/[id].ts", params: { id: "a b" } });
  assert.deepEqual({ ...router.match("/files/a/b/c")!.params }, { rest: "a/b/c" });
  assert.equal(router.match("/files"), null, "a rest parameter needs one segment or more");
  assert.equal(router.match("/users/1/extra"), null);
  assert.equal(router.match("/users/%E0%A4%A"), null, "a malformed escape matches nothing");
});

Deno.test("two files serving one route are refused, naming both", () => {
  const { problems } = planRoutes(["api/a.ts", "api/a/index.ts"]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.message, /api\/a\.ts/);
  assert.match(problems[0]!.message, /api\/a\/index\.ts/);
});

Deno.test("params named like Object.prototype's members are own values, never the prototype", () => {
  const files = ["api/[__proto__].ts", "api/x/[constructor]/[...toString].ts"];
  const router = new Router(planRoutes(files).routes);
  const proto = router.match("/polluted")!.params;
  assert.ok(Object.hasOwn(proto, "__proto__"));
  assert.equal(proto["__proto__"], "polluted");
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.equal(JSON.parse(JSON.stringify(proto))["__proto__"], "polluted", "it crosses the wire");
  const members = router.match("/x/c/a/b")!.params;
  assert.deepEqual(Object.entries(members), [["constructor", "c"], ["toString", "a/b"]]);
  assert.equal(router.match("/x/c%zz/a"), null, "a malformed escape matches nothing");
});
