/** Redacting variable values from text a tenant wrote: one pass, every value, markers left alone. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { redactSecrets } from "../../runtime/vars/redact.ts";

Deno.test("every value of 8 characters or more is hidden; shorter ones and other text stay", () => {
  const secrets = { TOKEN: "tok-12345678", PIN: "1234", OTHER: "other-value" };
  assert.equal(
    redactSecrets("a tok-12345678 and 1234, other-value twice: other-value.", secrets),
    "a [redacted TOKEN] and 1234, [redacted OTHER] twice: [redacted OTHER].",
  );
  assert.equal(redactSecrets("nothing here", secrets), "nothing here");
  assert.equal(redactSecrets("tok-12345678", {}), "tok-12345678");
});

Deno.test("overlapping values become one marker, and none of their text is kept", () => {
  const secrets = { A: "abcdefgh", B: "bcdefghijk" };
  assert.equal(redactSecrets("zzabcdefghijkzz", secrets), "zz[redacted A]zz");
  assert.equal(redactSecrets("xbcdefghijkx", secrets), "x[redacted B]x");
});

Deno.test("a value inside another's marker is not searched for again, so text cannot grow", () => {
  // Each replaceAll used to search the previous one's output: the second value is in the
  // first's marker, the third in the second's, and a line grew 32× per variable.
  const first = `A${"B".repeat(255)}`;
  const second = `B${"C".repeat(255)}`;
  const secrets = {
    [first]: "s3cr3t-v",
    [second]: "BBBBBBBB",
    [`C${"D".repeat(255)}`]: "CCCCCCCC",
  };
  const text = "s3cr3t-v".repeat(2048);
  const redacted = redactSecrets(text, secrets);
  assert.equal(redacted, `[redacted A${"B".repeat(31)}…]`.repeat(2048));
  assert.ok(redacted.length <= text.length * 5.5);
});

Deno.test("a long value is hidden whole from where its first 64 characters appear", () => {
  const key = `-----BEGIN KEY-----${"k".repeat(200)}-----END KEY-----`;
  assert.equal(redactSecrets(`key: ${key} (loaded)`, { KEY: key }), "key: [redacted KEY] (loaded)");
  // Cut after 64 characters, the rest of the line is hidden too: the value's length from there.
  assert.equal(redactSecrets(`key: ${key.slice(0, 70)}`, { KEY: key }), "key: [redacted KEY]");
});

Deno.test("values in several sets are found in one pass, also across sets", () => {
  const production = { TOKEN: "prod-token-1" };
  const preview = { TOKEN: "preview-token-2" };
  assert.equal(
    redactSecrets("prod-token-1 preview-token-2", production, preview),
    "[redacted TOKEN] [redacted TOKEN]",
  );
});

Deno.test("text outside ASCII is searched like any other", () => {
  assert.equal(
    redactSecrets("clé: café-crème-€€ ok", { K: "café-crème-€€" }),
    "clé: [redacted K] ok",
  );
});

Deno.test("what is hidden is exactly where some value's first 64 characters match, for its length", () => {
  // The automaton against the definition, on texts over two letters, where values overlap,
  // nest and share prefixes far more often than in real text.
  const word = (min: number, max: number) =>
    fc.array(fc.constantFrom("a", "b"), { minLength: min, maxLength: max }).map((l) => l.join(""));
  fc.assert(
    fc.property(
      fc.array(word(8, 90), { minLength: 1, maxLength: 5 }),
      word(0, 200),
      fc.array(fc.nat(), { maxLength: 5 }),
      (values, filler, at) => {
        let text = filler;
        // Plant some values in the text, so that matches are common.
        at.forEach((n, i) => {
          const value = values[i % values.length]!;
          const p = n % (text.length + 1);
          text = text.slice(0, p) + value + text.slice(p);
        });
        const secrets = Object.fromEntries(values.map((v, i) => [`S${i}`, v]));
        const hidden = new Array<boolean>(text.length).fill(false);
        for (const value of values) {
          const prefix = value.slice(0, 64);
          for (let p = 0; p + prefix.length <= text.length; p++) {
            if (!text.startsWith(prefix, p)) continue;
            for (let i = p; i < Math.min(text.length, p + value.length); i++) hidden[i] = true;
          }
        }
        const expected = [...text].map((c, i) => hidden[i] ? "#" : c).join("").replace(/#+/g, "#");
        const got = redactSecrets(text, secrets).replace(/\[redacted S\d\]/g, "#")
          .replace(/#+/g, "#");
        assert.equal(got, expected);
      },
    ),
    { numRuns: 2000 },
  );
});
