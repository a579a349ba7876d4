import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';

const NEWLINE = Buffer.from('\n');

/** Appends lines to a file, waiting when the stream's buffer is full instead of growing it. */
export class LineWriter {
  private failure: Error | undefined;
  private closed = false;

  private constructor(private readonly stream: WriteStream) {
    stream.on('error', (err) => {
      this.failure = err;
    });
  }

  /** Creates (or truncates) the file, and its directory when missing. */
  static async open(path: string): Promise<LineWriter> {
    await mkdir(dirname(path), { recursive: true });
    const stream = createWriteStream(path);
    await once(stream, 'open');
    return new LineWriter(stream);
  }

  async writeLine(line: string | Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    const body = typeof line === 'string' ? Buffer.from(line) : line;
    const ok = this.stream.write(Buffer.concat([body, NEWLINE]));
    if (!ok) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream.end();
    await finished(this.stream);
    if (this.failure) throw this.failure;
  }
}
