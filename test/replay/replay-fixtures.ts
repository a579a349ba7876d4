import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFaultSpec, runGenerate } from '../../src/generate/index.js';
import { decodeProtobufRequest, jsonRequestToProtobuf } from '../../src/otlp/index.js';
import { readManifest, spansFromJson, type FlatSpan, type ManifestLine } from '../generate/otlp-reader.js';

export const START_MS = Date.parse('2024-05-01T12:00:00Z');

/** A scratch directory and its removal. */
export function scratch(prefix = 'tailsift-replay-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface GeneratedInput {
  /** OTLP/JSON lines, as the generator's file target writes them. */
  readonly path: string;
  readonly manifest: ManifestLine[];
  /** The file's lines, each an OTLP/JSON request. */
  readonly lines: string[];
}

/**
 * Shop traffic at a fixed seed and start, with an error fault on the payment service so
 * that a known set of traces (the manifest's `hasError`) has failed spans (or other faults).
 */
export async function generateShopTraffic(
  dir: string,
  options: { rate?: number; durationSeconds?: number; seed?: number; faults?: readonly string[] } = {},
): Promise<GeneratedInput> {
  const path = join(dir, 'traffic.jsonl');
  const manifestPath = join(dir, 'traffic.manifest.jsonl');
  await runGenerate({
    target: `file:${path}`,
    manifestPath,
    scenario: 'shop',
    rate: options.rate ?? 40,
    durationSeconds: options.durationSeconds ?? 10,
    seed: options.seed ?? 7,
    startMs: START_MS,
    faults: (options.faults ?? ['payment:errors=0.5@2-8']).map(parseFaultSpec),
  });
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  return { path, manifest: readManifest(manifestPath), lines };
}

/** Every span of an OTLP/JSON lines file, read with JSON.parse alone. */
export function spansOfJsonLines(path: string): FlatSpan[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .flatMap((line, i) => spansFromJson(line, i));
}

/** The OTLP protobuf bytes of each OTLP/JSON line. */
export function protobufRequests(lines: readonly string[]): Uint8Array[] {
  return lines.map((line) => jsonRequestToProtobuf(JSON.parse(line)));
}

/** Requests joined with a length before each: 4 bytes big-endian, or a varint. */
export function lengthPrefixed(requests: readonly Uint8Array[], framing: 'uint32-be' | 'varint'): Buffer {
  const parts: Buffer[] = [];
  for (const r of requests) {
    if (framing === 'uint32-be') {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(r.length);
      parts.push(head);
    } else {
      const head: number[] = [];
      let n = r.length;
      while (n >= 0x80) {
        head.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      head.push(n);
      parts.push(Buffer.from(head));
    }
    parts.push(Buffer.from(r));
  }
  return Buffer.concat(parts);
}

/**
 * Bytes per trace as the engine buffers them: the decoder's per-trace fragments of each
 * request, summed by trace id.
 */
export function fragmentBytesByTrace(requests: readonly Uint8Array[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of requests) {
    const decoded = decodeProtobufRequest(r);
    if (!decoded.ok) throw decoded.error;
    for (const f of decoded.value.fragments) out.set(f.traceId, (out.get(f.traceId) ?? 0) + f.bytes.length);
  }
  return out;
}

export function writePolicy(dir: string, name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

export const KEEP_ERRORS = `decision_wait: 10s
policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
`;

/** Captures what a command writes. */
export class Captured {
  text = '';
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}
