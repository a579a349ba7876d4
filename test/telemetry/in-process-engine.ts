import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { Engine, type EngineOptions } from '../../src/engine.js';
import { createLogger } from '../../src/telemetry/logger.js';

/** An engine built by `Engine.create` in this process, on free loopback ports, logging into memory. */
export interface InProcessEngine {
  readonly engine: Engine;
  readonly dir: string;
  /** Base URL of the OTLP/HTTP receiver (no path); '' for a Kafka source. */
  readonly receiverUrl: string;
  readonly adminUrl: string;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Stops the engine (drains as configured) and removes its folder. */
  dispose(): Promise<void>;
}

/**
 * Starts an engine with `policy` as its policy file and `config` as the rest of its engine
 * config (YAML lines; `source`/`admin` default to port 0, the sink to `kept.jsonl` in its folder).
 */
export async function startInProcess(options: {
  policy: string;
  config?: readonly string[];
  engine?: Partial<Omit<EngineOptions, 'logger'>>;
}): Promise<InProcessEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'tailsift-ops-'));
  await writeFile(join(dir, 'policies.yaml'), options.policy);
  const lines = options.config ?? [];
  const has = (key: string): boolean => lines.some((l) => l.startsWith(`${key}:`));
  const text = [
    ...(has('source') ? [] : ['source: { type: otlp-http, host: 127.0.0.1, port: 0 }']),
    ...(has('admin') ? [] : ['admin: { host: 127.0.0.1, port: 0 }']),
    ...(has('sinks') ? [] : ['sinks: [{ type: file, path: kept.jsonl }]']),
    'policies: policies.yaml',
    ...lines,
    '',
  ].join('\n');
  const parsed = parseEngineConfigText(text, join(dir, 'tailsift.yaml'), dir, { env: {} });
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));

  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ destination, level: 'info', secrets: parsed.secrets });
  const engine = await Engine.create(parsed.config, { logger, statusIntervalMs: 0, ...options.engine });
  const started = await engine.start();
  return {
    engine,
    dir,
    receiverUrl: started.source.startsWith('http') ? started.source.replace(/\/v1\/traces$/, '') : '',
    adminUrl: `http://${started.admin.host}:${started.admin.port}`,
    logs,
    async dispose() {
      await engine.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** POSTs SDK spans as one OTLP/HTTP protobuf request. */
export async function postSpans(receiverUrl: string, spans: readonly ReadableSpan[]): Promise<Response> {
  const body = ProtobufTraceSerializer.serializeRequest([...spans]) as Uint8Array;
  return fetch(`${receiverUrl}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/x-protobuf' }, body });
}

/** Span names and attributes of every span in an OTLP/JSON Lines file sink's output. */
export async function readKeptSpans(path: string): Promise<{ traceId: string; name: string; attributes: Record<string, unknown> }[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: { traceId: string; name: string; attributes: Record<string, unknown> }[] = [];
  for (const line of text.split('\n').filter(Boolean)) {
    const req = JSON.parse(line) as {
      resourceSpans: { scopeSpans: { spans: { traceId: string; name: string; attributes?: { key: string; value: Record<string, unknown> }[] }[] }[] }[];
    };
    for (const rs of req.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          const attributes: Record<string, unknown> = {};
          for (const a of s.attributes ?? []) attributes[a.key] = Object.values(a.value)[0];
          out.push({ traceId: s.traceId, name: s.name, attributes });
        }
      }
    }
  }
  return out;
}
