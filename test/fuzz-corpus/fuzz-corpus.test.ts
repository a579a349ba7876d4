import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtlpHttpReceiver } from '../../src/ingest/otlp-http-receiver.js';
import { decodeJsonRequest, decodeProtobufRequest } from '../../src/otlp/index.js';
import type { DecodeResult } from '../../src/otlp/types.js';
import { silentLogger } from '../../src/telemetry/logger.js';

/** One input of the corpus; see manifest.json for what each reproduces. */
interface CorpusEntry {
  readonly file: string;
  readonly format: 'protobuf' | 'json';
  /** The file is gzip-compressed as a client would send it with Content-Encoding: gzip. */
  readonly gzip: boolean;
  /** What the decoder makes of the (inflated) body; too_large and bad_gzip stop before it. */
  readonly outcome: 'accepted' | 'rejected' | 'too_large' | 'bad_gzip';
  /** For rejections: a regular expression the decoder's reason matches. */
  readonly message?: string;
  /** For acceptances: the span count, and the first span's attributes. */
  readonly spans?: number;
  readonly attributes?: Record<string, unknown>;
  /** The receiver's answer to the file as sent. */
  readonly http: number;
  readonly source: string;
  readonly reproduces: string;
}

const MAX_BODY = 4 * 1024 * 1024;
const corpusDir = new URL('./inputs/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('./manifest.json', import.meta.url), 'utf8')) as { entries: CorpusEntry[] };

function inflate(entry: CorpusEntry, bytes: Buffer): Buffer | 'too_large' | 'bad_gzip' {
  if (!entry.gzip) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_BODY });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'bad_gzip';
  }
}

describe('fuzz corpus', () => {
  let receiver: OtlpHttpReceiver;
  let url: string;

  beforeAll(async () => {
    receiver = new OtlpHttpReceiver({ host: '127.0.0.1', port: 0, maxBodyBytes: MAX_BODY, intake: async () => ({ status: 'accepted' }), logger: silentLogger });
    const { host, port } = await receiver.start();
    url = `http://${host}:${port}/v1/traces`;
  });

  afterAll(async () => {
    await receiver.stop();
  });

  it('lists every input file exactly once, each with what it reproduces', () => {
    const files = manifest.entries.map((e) => e.file);
    expect(new Set(files).size).toBe(files.length);
    for (const entry of manifest.entries) {
      expect(() => readFileSync(new URL(entry.file, corpusDir))).not.toThrow();
      expect(entry.reproduces.length).toBeGreaterThan(20);
      expect(entry.file.endsWith('.gz')).toBe(entry.gzip);
    }
  });

  describe.each(manifest.entries.map((e) => [e.file, e] as const))('%s', (_file, entry) => {
    const sent = readFileSync(new URL(entry.file, corpusDir));

    it(`decodes to the recorded outcome (${entry.outcome})`, () => {
      const body = inflate(entry, sent);
      if (typeof body === 'string') {
        expect(body).toBe(entry.outcome);
        return;
      }
      let result: DecodeResult | undefined;
      expect(() => {
        result = entry.format === 'protobuf' ? decodeProtobufRequest(body) : decodeJsonRequest(body);
      }).not.toThrow();
      if (result === undefined) return;
      expect(result.ok ? 'accepted' : 'rejected').toBe(entry.outcome);
      if (!result.ok) {
        expect(result.error.message).toMatch(new RegExp(entry.message ?? '.'));
        return;
      }
      expect(result.value.spanCount).toBe(entry.spans);
      if (entry.attributes !== undefined) expect(Object.fromEntries(result.value.spans[0].attributes())).toEqual(entry.attributes);
    });

    it(`is answered ${entry.http} by the receiver`, async () => {
      const headers: Record<string, string> = { 'content-type': entry.format === 'protobuf' ? 'application/x-protobuf' : 'application/json' };
      if (entry.gzip) headers['content-encoding'] = 'gzip';
      const res = await fetch(url, { method: 'POST', headers, body: sent });
      await res.arrayBuffer();
      expect(res.status).toBe(entry.http);
    });
  });
});
