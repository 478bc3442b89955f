/**
 * The Chromium the browser tests drive: Debian's when it is installed, otherwise the one shipped
 * inside the npm package `@sparticuz/chromium` (a headless shell with the few shared libraries a
 * bare Debian lacks), unpacked into the temp folder on first use (about 1.5 s, then reused).
 *
 * `STUDIO_TEST_CHROMIUM` chooses: unset looks up the system paths below, then falls back to npm;
 * `npm` forces the npm browser; any other value is the one system path to look up (a missing path
 * falls back to npm, which is how a machine without Chromium is simulated).
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";

/** Where Debian and Ubuntu install Chromium. */
const SYSTEM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const NPM_PACKAGE = "@sparticuz/chromium";

/** What `chromium.launch` needs: the binary, its environment, and where it came from. */
export interface ChromiumBinary {
  executablePath: string;
  /** The whole environment to start it with (the npm browser needs its library folder). */
  env: Record<string, string>;
  /** "system" or "npm", for messages. */
  source: "system" | "npm";
}

/** The first of `paths` that is a file, or null. */
function firstFile(paths: string[]): string | null {
  return paths.find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  }) ?? null;
}

/** The browser to drive, as `STUDIO_TEST_CHROMIUM` (see the module's doc) chooses. */
export async function findChromium(
  choice: string | undefined = Deno.env.get("STUDIO_TEST_CHROMIUM"),
): Promise<ChromiumBinary> {
  if (choice !== "npm") {
    const system = firstFile(choice ? [choice] : SYSTEM_PATHS);
    if (system) return { executablePath: system, env: Deno.env.toObject(), source: "system" };
  }
  return await npmChromium();
}

/**
 * Unpacks the npm package's browser, fonts and libraries into the temp folder. The package
 * unpacks its libraries (NSS, NSPR, expat) only when it believes it runs on Amazon Linux 2023;
 * calling its own `inflate` on them instead leaves the process environment alone, and only the
 * browser gets them, through LD_LIBRARY_PATH.
 */
async function npmChromium(): Promise<ChromiumBinary> {
  const { default: Chromium, inflate } = await import("@sparticuz/chromium");
  const bin = new URL("../bin/", import.meta.resolve(NPM_PACKAGE)).pathname;
  const tmp = tmpdir();
  // The package reuses `<tmp>/chromium` whenever it exists: one left half-written by a run that
  // was killed mid-unpack would be reused forever, so it counts only once this mark is written.
  const mark = `${tmp}/chromium.unpacked`;
  if (!existsSync(mark)) {
    for (const path of [`${tmp}/chromium`, `${tmp}/al2023`]) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
  const executablePath = await Chromium.executablePath();
  const libraries = await inflate(`${bin}al2023.tar.br`);
  await Deno.writeTextFile(mark, `${NPM_PACKAGE} ${bin}\n`);
  return {
    executablePath,
    env: {
      ...Deno.env.toObject(),
      LD_LIBRARY_PATH: `${libraries}/lib`,
      FONTCONFIG_PATH: `${tmp}/fonts`,
    },
    source: "npm",
  };
}
