/**
 * Takes away, before any user code runs, what a permission-less process would still reach. The
 * global scope is deny by default: only the names in ALLOWED_GLOBALS stay (ECMAScript's own and
 * the web platform a handler needs, all served by the Deno binary itself, with no library loaded
 * from the host and no host file read); anything else, including what a newer Deno adds, is
 * removed. Among what goes: WebGPU (it loads the host's Mesa and LLVM libraries and writes a
 * shader cache under the host user's home), threads, the host-wide Cache API and Web Storage,
 * channels between workers, Node's `process`. In `Deno`, what answers without a permission and
 * tells of the host (its working directory, executable, this bootstrap's path and arguments,
 * process ids) is refused, as are the process's stdio and its exit; the rest needs permissions
 * the process does not have. Stack formatting is fixed, so no handler can read the bootstrap's
 * own frames through `Error.prepareStackTrace`.
 */

/**
 * The globals a function keeps (README "Sandboxes": the allow-list). None is backed by a native
 * library or a host file: crypto, compression, Intl, WebAssembly and image decoding are built
 * into the Deno binary; `fetch` is the host's proxy.
 */
// deno-fmt-ignore
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  // ECMAScript
  "AggregateError", "Array", "ArrayBuffer", "AsyncDisposableStack", "Atomics", "BigInt",
  "BigInt64Array", "BigUint64Array", "Boolean", "DataView", "Date", "DisposableStack", "Error",
  "EvalError", "FinalizationRegistry", "Float16Array", "Float32Array", "Float64Array", "Function",
  "Infinity", "Int16Array", "Int32Array", "Int8Array", "Intl", "Iterator", "JSON", "Map", "Math",
  "NaN", "Number", "Object", "Promise", "Proxy", "RangeError", "ReferenceError", "Reflect",
  "RegExp", "Set", "SharedArrayBuffer", "String", "SuppressedError", "Symbol", "SyntaxError",
  "Temporal", "TypeError", "URIError", "Uint16Array", "Uint32Array", "Uint8Array",
  "Uint8ClampedArray", "WeakMap", "WeakRef", "WeakSet", "WebAssembly", "decodeURI",
  "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "eval", "globalThis",
  "isFinite", "isNaN", "parseFloat", "parseInt", "undefined", "unescape",
  // The web platform
  "AbortController", "AbortSignal", "Blob", "ByteLengthQueuingStrategy", "CloseEvent",
  "CompressionStream", "CountQueuingStrategy", "Crypto", "CryptoKey", "CustomEvent",
  "DOMException", "DOMMatrix", "DOMMatrixReadOnly", "DOMPoint", "DOMPointReadOnly", "DOMQuad",
  "DOMRect", "DOMRectReadOnly", "DecompressionStream", "ErrorEvent", "Event", "EventSource",
  "EventTarget", "File", "FileReader", "FormData", "Headers", "ImageBitmap",
  "ImageBitmapRenderingContext", "ImageData", "Location", "Lock", "LockManager", "MessageChannel",
  "MessageEvent", "MessagePort", "Navigator", "NavigatorUAData", "OffscreenCanvas", "Performance",
  "PerformanceEntry", "PerformanceMark", "PerformanceMeasure", "PerformanceObserver",
  "PerformanceObserverEntryList", "ProgressEvent", "PromiseRejectionEvent", "QuotaExceededError",
  "ReadableByteStreamController", "ReadableStream", "ReadableStreamBYOBReader",
  "ReadableStreamBYOBRequest", "ReadableStreamDefaultController", "ReadableStreamDefaultReader",
  "Request", "Response", "SubtleCrypto", "TextDecoder", "TextDecoderStream", "TextEncoder",
  "TextEncoderStream", "TransformStream", "TransformStreamDefaultController", "URL", "URLPattern",
  "URLSearchParams", "WebSocket", "Window", "WritableStream", "WritableStreamDefaultController",
  "WritableStreamDefaultWriter", "atob", "btoa", "clearInterval", "clearTimeout", "closed",
  "console", "createImageBitmap", "crypto", "fetch", "location", "name", "navigator",
  "onbeforeunload", "onerror", "onload", "onunhandledrejection", "onunload", "performance",
  "queueMicrotask", "reportError", "self", "setInterval", "setTimeout", "structuredClone",
  // Deno's own namespace (trimmed below) and Node's harmless helpers
  "Deno", "Buffer", "global", "setImmediate", "clearImmediate",
]);

/** Members of `Deno` refused although no permission guards them: each tells of the host. */
const REFUSED_DENO = [
  "cwd", // the host's working directory
  "execPath", // the host's Deno executable
  "mainModule", // this bootstrap's path
  "args", // the host's socket path
  "pid", // host process ids
  "ppid",
  "stdin", // the process's stdio: not the wire, and nothing of the process is the function's
  "stdout",
  "stderr",
  "exit", // ends the process
] as const;

function refuse(what: string): () => never {
  return () => {
    throw new Error(`${what} is not available inside a function`);
  };
}

/** Removes a property, or where it cannot be deleted, makes reading it throw. */
function takeAway(target: object, name: string, what: string): void {
  const record = target as Record<string, unknown>;
  try {
    delete record[name];
    if (name in record) {
      Object.defineProperty(target, name, { get: refuse(what), configurable: false });
    }
  } catch { /* non-configurable and already harmless (checked by the surface test) */ }
}

/** Locks the global scope down; call once, after the runtime is installed, before user modules. */
export function lockDown(): void {
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (!ALLOWED_GLOBALS.has(name)) takeAway(globalThis, name, name);
  }
  // navigator.gpu is a getter of Navigator's prototype; the instance it makes loads the GPU
  // drivers (the host's spawn flags also give WebGPU no backend).
  takeAway(Object.getPrototypeOf(navigator), "gpu", "navigator.gpu");
  const deno = Deno as unknown as Record<string | symbol, unknown>;
  delete deno[(Deno as unknown as { internal: symbol }).internal];
  for (const name of REFUSED_DENO) {
    Object.defineProperty(Deno, name, { get: refuse(`Deno.${name}`), configurable: false });
  }
  // The bootstrap's frames never reach the formatter (V8 names a file module's frames by path,
  // not by URL), and a handler may not swap the formatter for one that reads raw call sites.
  const format = (Error as unknown as { prepareStackTrace?: StackFormatter }).prepareStackTrace;
  const self = [import.meta.url, decodeURIComponent(new URL(import.meta.url).pathname)];
  const withoutBootstrap: StackFormatter = (error, sites) => {
    const own = sites.filter((site) => !self.includes(site.getFileName?.() ?? ""));
    return format
      ? format(error, own)
      : [String(error), ...own.map((s) => `    at ${s}`)].join("\n");
  };
  Object.defineProperty(Error, "prepareStackTrace", {
    value: withoutBootstrap,
    writable: false,
    configurable: false,
  });
}

/** V8's stack formatting hook: the error and its call sites. */
type StackFormatter = (
  error: unknown,
  sites: Array<{ getFileName?(): string | undefined }>,
) => string;
