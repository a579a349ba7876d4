import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { SinkError } from '../errors.js';
import { protobufRequestToJsonBytes } from '../otlp/index.js';
import type { KeptBatch, TraceSink } from './sink.js';

export interface FileSinkOptions {
  /** JSON Lines file the kept traces are appended to; its directory is created when missing. */
  readonly path: string;
}

// Failures that can pass (a full disk gets space again); the rest need a person.
const TRANSIENT_IO_CODES = new Set(['ENOSPC', 'EIO', 'EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EDQUOT']);

/**
 * Appends one OTLP/JSON ExportTraceServiceRequest per batch, one per line, to a file: the
 * `replay --out` and default `run` output, readable with any JSON Lines tool.
 *
 * All writes go through one append stream, in call order. A send waits while the stream's
 * buffer is full (backpressure) and resolves once its line has been handed to the operating
 * system (not fsynced).
 */
export class FileSink implements TraceSink {
  readonly name: string;
  private readonly path: string;
  private stream: WriteStream | undefined;
  private opening: Promise<WriteStream> | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(options: FileSinkOptions) {
    this.path = options.path;
    this.name = `file ${options.path}`;
  }

  send(batch: KeptBatch): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(new SinkError(this.name, 'the sink is closed', { retriable: true }));
    }
    const writing = this.write(batch);
    const tracked = writing.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return writing;
  }

  /** Waits for pending sends, flushes and closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async write(batch: KeptBatch): Promise<void> {
    let line: Buffer;
    try {
      line = protobufRequestToJsonBytes(batch.request, { newline: true });
    } catch (err) {
      throw new SinkError(this.name, `cannot convert the batch to OTLP/JSON: ${(err as Error).message}`, { retriable: false, cause: err });
    }
    // Lines go out in call order: each send takes its turn to wait for room and hand its line
    // to the stream, then waits for the write itself outside the queue so writes pipeline.
    let handedOver: Promise<void> | undefined;
    const turn = this.queue.then(async () => {
      const stream = await this.open();
      if (stream.writableNeedDrain) {
        await waitForDrain(stream).catch((err: unknown) => {
          throw this.ioError('cannot write', err);
        });
      }
      handedOver = new Promise<void>((resolve, reject) => {
        stream.write(line, (err) => (err ? reject(this.ioError('cannot write', err)) : resolve()));
      });
    });
    this.queue = turn.catch(() => undefined);
    await turn;
    await handedOver;
  }

  private open(): Promise<WriteStream> {
    if (this.stream !== undefined && !this.stream.destroyed) return Promise.resolve(this.stream);
    this.opening ??= (async () => {
      try {
        await mkdir(dirname(this.path), { recursive: true });
        const stream = createWriteStream(this.path, { flags: 'a' });
        await once(stream, 'open');
        // A failed stream is dead; forget it so the next send opens the file again.
        stream.on('error', () => {
          if (this.stream === stream) this.stream = undefined;
        });
        this.stream = stream;
        return stream;
      } catch (err) {
        throw this.ioError('cannot open', err);
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening;
  }

  private async shutdown(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    const stream = this.stream;
    this.stream = undefined;
    if (stream === undefined || stream.destroyed) return;
    await new Promise<void>((resolve, reject) => {
      stream.end((err?: Error | null) => (err ? reject(this.ioError('cannot flush', err)) : resolve()));
    });
  }

  private ioError(what: string, err: unknown): SinkError {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return new SinkError(this.name, `${what} ${this.path}: ${(err as Error).message}`, {
      retriable: TRANSIENT_IO_CODES.has(code),
      cause: err,
    });
  }
}

function waitForDrain(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (err: Error): void => {
      stream.off('drain', onDrain);
      reject(err);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}
