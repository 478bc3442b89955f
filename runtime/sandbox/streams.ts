/**
 * Credit-based flow control for bodies that stream over the host↔sandbox wire (a function's
 * streamed response, an outbound fetch's response). The receiver starts by allowing
 * STREAM_WINDOW_BYTES and grants more only as its consumer reads, so neither side ever holds
 * more than a window of a stream its reader has not taken: a client that stops reading stops the
 * sandbox's producer, a handler that stops reading stops the upstream. Shared by host and
 * sandbox: imports nothing.
 */

/** Bytes a sender may have sent on a stream beyond what the receiver's consumer has read. */
export const STREAM_WINDOW_BYTES = 64 * 1024;

/** The sender's side: how many bytes it may still send before it must wait for credit. */
export class CreditWindow {
  #outstanding = 0;
  #closed = false;
  #waiting: (() => void) | null = null;

  /**
   * Waits until `bytes` may be sent, then counts them. A chunk larger than the window is let
   * through once nothing is outstanding (callers split chunks to at most the window anyway).
   * Resolves false when the receiver cancelled.
   */
  async take(bytes: number): Promise<boolean> {
    while (
      !this.#closed && this.#outstanding > 0 && this.#outstanding + bytes > STREAM_WINDOW_BYTES
    ) {
      await new Promise<void>((resolve) => this.#waiting = resolve);
    }
    if (this.#closed) return false;
    this.#outstanding += bytes;
    return true;
  }

  /** The receiver's consumer read `bytes`: that much may be sent again. */
  grant(bytes: number): void {
    this.#outstanding = Math.max(0, this.#outstanding - bytes);
    this.#wake();
  }

  /** The receiver is gone: every wait ends, and `take` answers false from now on. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }
}

/**
 * The receiver's side: a ReadableStream fed by chunks as they arrive; each chunk its consumer
 * takes is granted back to the sender (`grant`), and cancelling it tells the sender (`cancel`).
 * It holds at most what the sender's window allowed.
 */
export class CreditedStream {
  readonly readable: ReadableStream<Uint8Array>;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | null = null;
  #arrived: (() => void) | null = null;

  constructor(grant: (bytes: number) => void, cancel: () => void) {
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (this.#queue.length === 0 && !this.#ended) {
          await new Promise<void>((resolve) => this.#arrived = resolve);
        }
        const chunk = this.#queue.shift();
        if (chunk) {
          this.#queued -= chunk.length;
          controller.enqueue(chunk);
          grant(chunk.length);
        } else if (this.#error) controller.error(this.#error);
        else controller.close();
      },
      cancel: () => {
        this.#ended = true;
        this.#queue = [];
        this.#queued = 0;
        cancel();
      },
    }, { highWaterMark: 0 });
  }

  /**
   * A chunk arrived from the sender. Answers false, keeping nothing, when it passes what the
   * window allows (the sender ignored its credit: the caller treats it as a broken protocol).
   */
  push(chunk: Uint8Array): boolean {
    if (this.#ended) return true;
    if (this.#queued + chunk.length > STREAM_WINDOW_BYTES) return false;
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    this.#wake();
    return true;
  }

  /** The sender finished (or failed with `error`); chunks already queued are still read. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error ?? null;
    this.#wake();
  }

  #wake(): void {
    const arrived = this.#arrived;
    this.#arrived = null;
    arrived?.();
  }
}

/** Splits `bytes` into pieces of at most STREAM_WINDOW_BYTES (views, no copies). */
export function* windowed(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += STREAM_WINDOW_BYTES) {
    yield bytes.subarray(at, at + STREAM_WINDOW_BYTES);
  }
}

/**
 * Sends `bytes` in window-sized pieces, each once `window` has room for it; answers false (the
 * rest unsent) when the receiver cancelled.
 */
export async function sendWindowed(
  window: CreditWindow,
  bytes: Uint8Array,
  send: (piece: Uint8Array) => void,
): Promise<boolean> {
  for (const piece of windowed(bytes)) {
    if (!await window.take(piece.length)) return false;
    send(piece);
  }
  return true;
}
