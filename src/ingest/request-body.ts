import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';

export type BodyReadResult =
  | { readonly ok: true; readonly body: Buffer }
  | { readonly ok: false; readonly problem: 'too_large' | 'bad_gzip' | 'aborted'; readonly message: string };

export interface BodyReadOptions {
  /** Largest body accepted, bytes: as sent, and again after decompression. */
  readonly maxBytes: number;
  /** The body is gzip-compressed (`Content-Encoding: gzip`). */
  readonly gzip: boolean;
}

/**
 * Reads a request body without ever holding more than `maxBytes` of it, before or after
 * decompression. Over the limit it stops at once and leaves the rest of the upload unread
 * (paused): the caller answers and disposes of it with `discardRemaining`.
 */
export async function readRequestBody(req: IncomingMessage, options: BodyReadOptions): Promise<BodyReadResult> {
  const raw = await readRaw(req, options.maxBytes);
  if (!raw.ok || !options.gzip) return raw;
  return gunzipBounded(raw.body, options.maxBytes);
}

function tooLarge(maxBytes: number, what: string): BodyReadResult {
  return { ok: false, problem: 'too_large', message: `${what} is larger than the limit of ${maxBytes} bytes` };
}

function readRaw(req: IncomingMessage, maxBytes: number): Promise<BodyReadResult> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > maxBytes) {
    return Promise.resolve(tooLarge(maxBytes, `request body (Content-Length ${declared})`));
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        chunks.length = 0;
        req.pause();
        resolve(tooLarge(maxBytes, 'request body'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ ok: true, body: Buffer.concat(chunks, size) });
    };
    const onGone = (): void => {
      cleanup();
      resolve({ ok: false, problem: 'aborted', message: 'the client closed the connection before the body was complete' });
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    // 'close' after 'end' never gets here: onEnd removed this listener.
    req.on('close', onGone);
  });
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

function gunzipBounded(compressed: Buffer, maxBytes: number): Promise<BodyReadResult> {
  return new Promise((resolve) => {
    // maxOutputLength makes zlib stop inflating as soon as the output passes the limit, so a
    // small body that inflates to gigabytes (a gzip bomb) never gets allocated.
    gunzip(compressed, { maxOutputLength: maxBytes }, (err, body) => {
      if (err === null) {
        resolve({ ok: true, body });
      } else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        resolve(tooLarge(maxBytes, 'decompressed request body'));
      } else {
        resolve({ ok: false, problem: 'bad_gzip', message: `the body is not valid gzip: ${err.message}` });
      }
    });
  });
}

/**
 * Lets the rest of an unwanted upload flow into the void, up to `limitBytes`, then cuts the
 * connection. Closing a socket with unread data makes the kernel send a reset, which can
 * destroy our answer (413, 415, ...) before the client reads it; draining a bounded amount
 * lets an ordinary client read the answer and keep its connection, while a client that keeps
 * sending is cut off without anything being kept in memory.
 *
 * Returns false when the declared Content-Length already shows the connection will be cut:
 * the answer should then carry `Connection: close` so the client does not reuse it.
 */
export function discardRemaining(req: IncomingMessage, limitBytes: number): boolean {
  if (req.readableEnded || req.destroyed) return true;
  const declared = declaredLength(req);
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limitBytes) req.socket.destroy();
  });
  req.resume();
  return declared === undefined || declared <= limitBytes;
}
