/** What a refused deploy reports: its diagnostics, each naming the file, line and column. */
import { HttpError } from "../errors.ts";

/** One problem found in a deploy; `file`, `line` and `column` (1-based) are null where none applies. */
export interface Diagnostic {
  file: string | null;
  line: number | null;
  column: number | null;
  message: string;
}

/** A deploy refused for its code: 400 with every diagnostic, the first one in `error`. */
export class CompileError extends HttpError {
  /**
   * `limit`: the deploy broke a compile limit (size, nesting, time, a compiler crash), which is
   * also logged for the app; `status` is 400, or 413 for code too large.
   */
  constructor(
    readonly diagnostics: Diagnostic[],
    options: { limit?: boolean; status?: 400 | 413 } = {},
  ) {
    super(options.status ?? 400, `deploy refused: ${formatDiagnostic(diagnostics[0])}`, {
      diagnostics,
    });
    this.name = "CompileError";
    this.limit = options.limit ?? false;
  }

  readonly limit: boolean;
}

/** Renders a diagnostic as `file:line:column: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = [d.file, d.line, d.column].filter((x) => x !== null).join(":");
  return where ? `${where}: ${d.message}` : d.message;
}
