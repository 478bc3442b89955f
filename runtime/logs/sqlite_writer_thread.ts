/**
 * The log writer thread's entry: one SQLite connection of its own, batches written in the
 * order they arrive, each answered once committed (runtime/logs/sqlite_writer.ts).
 */
/// <reference lib="deno.worker" />
import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../platform/sqlite.ts";
import { type FromWriter, LogWriterCore, type ToWriter } from "./sqlite_writer.ts";

let db: DatabaseSync | null = null;
let core: LogWriterCore | null = null;

self.onmessage = ({ data }: MessageEvent<ToWriter>) => {
  if (data.t === "open") {
    db = openDatabase(data.path);
    core = new LogWriterCore(db, data.maxPerApp);
    return;
  }
  try {
    if (data.t === "write") core!.write(data.columns);
    else db?.close();
    self.postMessage({ id: data.id } satisfies FromWriter);
  } catch (error) {
    self.postMessage({ id: data.id, error: (error as Error).message } satisfies FromWriter);
  }
};
