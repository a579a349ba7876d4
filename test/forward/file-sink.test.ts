import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { SinkError } from '../../src/errors.js';
import { FileSink } from '../../src/forward/file-sink.js';
import type { KeptBatch } from '../../src/forward/sink.js';
import { decodeJsonRequest } from '../../src/otlp/index.js';
import { makeSdkSpans, summarizeSdkSpans, summarizeViews, type SpanSummary } from '../ingest/sdk-spans.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tailsift-file-sink-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function batches(n: number, spansPerTrace = 3): { batch: KeptBatch; expected: SpanSummary[] }[] {
  return Array.from({ length: n }, (_, i) => {
    const spans = makeSdkSpans({ traces: 1 + (i % 3), spansPerTrace, serviceName: `svc-${i}` });
    return {
      batch: { request: ProtobufTraceSerializer.serializeRequest(spans)!, traceCount: 1 + (i % 3), spanCount: spans.length },
      expected: summarizeSdkSpans(spans),
    };
  });
}

async function linesOf(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

function decodeLine(line: string): SpanSummary[] {
  const parsed = JSON.parse(line) as { resourceSpans: unknown[] };
  expect(Array.isArray(parsed.resourceSpans)).toBe(true);
  const decoded = decodeJsonRequest(line);
  if (!decoded.ok) throw decoded.error;
  return summarizeViews(decoded.value.spans);
}

describe('FileSink', () => {
  it('writes one OTLP/JSON line per send, creating the directory; each line decodes to its batch', async () => {
    const path = join(dir, 'nested', 'deeper', 'kept.jsonl');
    const sink = new FileSink({ path });
    const sent = batches(5);
    for (const { batch } of sent) await sink.send(batch);
    await sink.close();
    const lines = await linesOf(path);
    expect(lines).toHaveLength(5);
    lines.forEach((line, i) => expect(decodeLine(line)).toEqual(sent[i].expected));
  });

  it('keeps call order under concurrent sends larger than the stream buffer', async () => {
    const path = join(dir, 'kept.jsonl');
    const sink = new FileSink({ path });
    // ~40 spans per batch: every line is far larger than the stream's 16 KiB buffer.
    const sent = batches(30, 40);
    await Promise.all(sent.map(({ batch }) => sink.send(batch)));
    await sink.close();
    const lines = await linesOf(path);
    expect(lines).toHaveLength(30);
    lines.forEach((line, i) => expect(decodeLine(line)).toEqual(sent[i].expected));
  });

  it('appends to an existing file instead of replacing it', async () => {
    const path = join(dir, 'kept.jsonl');
    await writeFile(path, '{"resourceSpans":[]}\n');
    const sink = new FileSink({ path });
    const [{ batch, expected }] = batches(1);
    await sink.send(batch);
    await sink.close();
    const lines = await linesOf(path);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('{"resourceSpans":[]}');
    expect(decodeLine(lines[1])).toEqual(expected);
  });

  it('flushes on close; close is idempotent and later sends are refused', async () => {
    const path = join(dir, 'kept.jsonl');
    const sink = new FileSink({ path });
    const sent = batches(3);
    const sends = sent.map(({ batch }) => sink.send(batch));
    await Promise.all([sink.close(), sink.close()]);
    await Promise.all(sends);
    expect(await linesOf(path)).toHaveLength(3);
    const refused = (await sink.send(sent[0].batch).catch((err: unknown) => err)) as SinkError;
    expect(refused).toBeInstanceOf(SinkError);
    expect(refused.message).toContain('closed');
  });

  it('fails with a SinkError naming the path when the file cannot be opened', async () => {
    const path = join(dir, 'is-a-directory');
    await mkdir(path);
    const sink = new FileSink({ path });
    const error = (await sink.send(batches(1)[0].batch).catch((err: unknown) => err)) as SinkError;
    expect(error).toBeInstanceOf(SinkError);
    expect(error.message).toContain(path);
    expect(error.retriable).toBe(false);
    await sink.close();
  });

  it('fails a batch whose bytes are not an ExportTraceServiceRequest, not retriable', async () => {
    const sink = new FileSink({ path: join(dir, 'kept.jsonl') });
    const error = (await sink.send({ request: Uint8Array.from([0x0a, 0xff]), traceCount: 1, spanCount: 1 }).catch((err: unknown) => err)) as SinkError;
    expect(error).toBeInstanceOf(SinkError);
    expect(error.retriable).toBe(false);
    await sink.close();
  });
});
