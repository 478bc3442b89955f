/** What a refused deploy reports: its diagnostics, each naming the file, line and column. */
import { PlatformError } from "../errors.ts";

/** One problem found in a deploy; `file`, `line` and `column` (1-based) are null where none applies. */
export interface Diagnostic {
  file: string | null;
  line: number | null;
  column: number | null;
  message: string;
}

/** A deploy refused for its code (`invalid`), with every diagnostic, the first one in `error`. */
export class CompileError extends PlatformError {
  /**
   * `limit`: the deploy broke a compile limit (size, nesting, time, a compiler crash), which is
   * also logged for the app; `tooLarge`: the kind is `too-large` (compiled code over its cap).
   */
  constructor(
    readonly diagnostics: Diagnostic[],
    options: { limit?: boolean; tooLarge?: boolean } = {},
  ) {
    super(
      options.tooLarge ? "too-large" : "invalid",
      `deploy refused: ${formatDiagnostic(diagnostics[0]!)}`,
      { details: { diagnostics } },
    );
    this.name = "CompileError";
    this.limit = options.limit ?? false;
  }

  readonly limit: boolean;
}

/** Renders a diagnostic as `file:line:column: message`. */
function formatDiagnostic(d: Diagnostic): string {
  const where = [d.file, d.line, d.column].filter((x) => x !== null).join(":");
  return where ? `${where}: ${d.message}` : d.message;
}
