/**
 * The admin key of a development server (`deno task dev`, `fn dev`): generated once into its data
 * folder and read back on every later start, so the CLI, a signed-in Studio and scripts keep
 * working across restarts (and `--watch` reloads).
 */

/** The key file's name inside the data folder. */
export const DEV_KEY_FILE = "admin.key";

/** A development admin key and where it is kept. */
export interface DevKey {
  key: string;
  /** `<dataDir>/admin.key`, readable by its owner only (mode 0600). */
  path: string;
  /** True when this call generated it (the first start with this data folder). */
  created: boolean;
}

/** The key kept in `<dataDir>/admin.key`, generated (48 characters) when missing or too short. */
export async function devAdminKey(dataDir: string): Promise<DevKey> {
  const path = `${dataDir}/${DEV_KEY_FILE}`;
  try {
    const key = (await Deno.readTextFile(path)).trim();
    // The server refuses admin keys under 16 characters; such a file is replaced, not used.
    if (key.length >= 16) return { key, path, created: false };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(dataDir, { recursive: true });
  const key = `dev_${crypto.randomUUID().replaceAll("-", "")}${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(path, `${key}\n`, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return { key, path, created: true };
}
