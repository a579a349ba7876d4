import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defaultType, durationMs, redisUrl, tlsFilesSchema, withDefault } from './schema-fields.js';
import { baselinesConfigProblems, baselinesConfigSchema } from '../baselines/config.js';
import { alertsConfigProblems, alertsConfigSchema } from '../alerts/config.js';
import { applyEnvOverrides, overrideOrigin, type EnvOverride } from './env-overrides.js';
import { substituteEnvReferences, type Environment, type Substitution } from './env-substitution.js';
import { configSecrets } from './redaction.js';
import { formatPath, formatProblems, parseYaml, readYamlFile, validateParsed } from './yaml-validation.js';
import type { ParsedYaml, PathSegment, Problem } from './yaml-validation.js';
import { defOf, unwrap } from './schema-introspection.js';

/**
 * The engine config: where spans come from, where traces wait, which policy file decides,
 * where kept traces go, and the admin endpoint. Every key is optional; this schema is the
 * single source of the defaults and of the reference (`renderEngineConfigReference`).
 */

const MIB = 1024 * 1024;

const hostSchema = z.string().min(1);
const portSchema = z.number().int().min(0).max(65535);

const brokerSchema = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/, { message: 'expected "host:port", e.g. "127.0.0.1:9092"' });

const brokersSchema = z.array(brokerSchema).min(1);
const kafkaEncoding = z.enum(['otlp_proto', 'otlp_json']);

const httpUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'expected an http:// or https:// URL, e.g. "http://127.0.0.1:4318/v1/traces"' },
);


const kafkaSaslSchema = z
  .strictObject({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism. Required.'),
    username: z.string().min(1).describe('Required.'),
    password: z.string().min(1).describe('Required; write it as `${ENV_VAR}` to keep it out of the file.'),
  })
  .optional()
  .describe('SASL authentication: `{ mechanism, username, password }` with mechanism `plain`, `scram-sha-256` or `scram-sha-512`; use it with `tls`, as PLAIN sends the password as it is. Default: none.');

const kafkaTlsSchema = z
  .union([z.boolean(), tlsFilesSchema])
  .optional()
  .describe('TLS to the brokers: `true` (trust the system CAs) or `{ ca, cert, key, rejectUnauthorized }` with PEM file paths relative to the config file. Default: off.');

const otlpHttpSource = z.strictObject({
  type: z.literal('otlp-http').describe('Receive OTLP/HTTP `POST /v1/traces` (protobuf or JSON, optionally gzip).'),
  host: withDefault(hostSchema, '127.0.0.1', 'Address the receiver listens on.'),
  port: withDefault(portSchema, 4318, 'TCP port the receiver listens on.'),
  maxBodyBytes: withDefault(z.number().int().positive(), 16 * MIB, 'Largest request body accepted, in bytes (after gzip decoding); larger requests get 413.', '16777216 (16 MiB)'),
  bearerToken: z
    .string()
    .min(16, { message: 'must be at least 16 characters; a short token can be guessed' })
    .optional()
    .describe(
      'Token every request must carry as `Authorization: Bearer <token>`; others get 401. Write it as `${ENV_VAR}`; it never appears in logs. Default: none (no authentication: keep `host` on loopback).',
    ),
});

const kafkaSource = z.strictObject({
  type: z.literal('kafka').describe('Consume OTLP spans from a Kafka topic, as the Collector\'s Kafka exporter writes them.'),
  brokers: withDefault(brokersSchema, ['127.0.0.1:9092'], 'Bootstrap brokers, each "host:port".'),
  topic: withDefault(z.string().min(1), 'otlp_spans', 'Topic to consume.'),
  groupId: withDefault(z.string().min(1), 'tailsift', 'Consumer group id; instances sharing it share the partitions.'),
  encoding: withDefault(kafkaEncoding, 'otlp_proto', 'Message encoding: `otlp_proto` or `otlp_json`.'),
  sessionTimeout: withDefault(
    durationMs,
    '30s',
    'How long the group waits for a silent member (a crashed instance) before its partitions move to the others (Go duration; milliseconds once validated).',
  ),
  deadLetterTopic: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Topic that records which are not OTLP trace requests are produced to, with headers naming the reason, source topic, partition and offset; their offsets are committed only after the broker took them. Default: none (counted, logged and skipped).',
    ),
  sasl: kafkaSaslSchema,
  tls: kafkaTlsSchema,
});

const sourceSchema = z
  .preprocess(defaultType('otlp-http'), z.discriminatedUnion('type', [otlpHttpSource, kafkaSource]))
  .prefault({ type: 'otlp-http' })
  .describe('Where spans come from. Default: `{ type: otlp-http }`.');

const shutdownMode = z.enum(['decide', 'leave']);

const memoryBuffer = z.strictObject({
  type: z.literal('memory').describe('Keep pending traces in this process (single instance; lost on crash).'),
  pendingOnShutdown: withDefault(
    shutdownMode,
    'decide',
    'What SIGTERM does with undecided traces: `decide` them at once, whatever their due time, or `leave` them, which in memory means they are lost (counted and logged).',
  ),
});

const redisBuffer = z.strictObject({
  type: z.literal('redis').describe('Keep pending traces in Redis, shared by every instance.'),
  url: withDefault(
    redisUrl,
    'redis://127.0.0.1:6379',
    'Redis server URL: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Write the password as `${ENV_VAR}`; it never appears in logs.',
  ),
  tls: tlsFilesSchema
    .optional()
    .describe('TLS settings `{ ca, cert, key, rejectUnauthorized }` (PEM file paths relative to the config file); giving them turns TLS on even with `redis://`. Default: none (TLS only with `rediss://`, trusting the system CAs).'),
  prefix: withDefault(z.string().min(1).regex(/^[^{}\s]+$/, { message: 'must not contain spaces or braces' }), 'tailsift', 'Prefix of every key tailsift writes.'),
  buckets: withDefault(
    z.number().int().min(1).max(16384),
    64,
    'Buckets traces are spread over, each in one Redis Cluster hash slot; every instance sharing a prefix must use the same number.',
  ),
  lease: withDefault(
    durationMs,
    '60s',
    'How long an instance holds a trace it is deciding; past it (the instance died) another instance takes the trace over (Go duration; milliseconds once validated).',
  ),
  decisionCacheTtl: withDefault(
    durationMs,
    '10m',
    'How long a decision is remembered for late spans, besides the policy file\'s decision_cache bounds (Go duration; milliseconds once validated).',
  ),
  pendingOnShutdown: withDefault(
    shutdownMode,
    'leave',
    'What SIGTERM does with undecided traces: `leave` them in Redis for the other instances (or this one\'s restart), or `decide` them at once, whatever their due time.',
  ),
});

const bufferSchema = z
  .preprocess(defaultType('memory'), z.discriminatedUnion('type', [memoryBuffer, redisBuffer]))
  .prefault({ type: 'memory' })
  .describe('Where spans wait until their trace is decided. Default: `{ type: memory }`.');

const fileSink = z.strictObject({
  type: z.literal('file').describe('Append kept traces to a JSON Lines file, one OTLP/JSON request per line.'),
  path: withDefault(z.string().min(1), 'data/kept.jsonl', 'File to append to; relative to the config file, or to the working directory for the default.'),
});

const otlpHttpSink = z
  .strictObject({
    type: z.literal('otlp-http').describe('POST kept traces to an OTLP/HTTP endpoint (Jaeger, Tempo, a Collector, ...).'),
    endpoint: httpUrl.describe('Full URL, e.g. "http://127.0.0.1:4318/v1/traces". Required.'),
    encoding: withDefault(z.enum(['protobuf', 'json']), 'protobuf', 'Request encoding: `protobuf` or `json`.'),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .describe('Extra request headers, e.g. `Authorization: "Bearer ${API_KEY}"`; write secrets as `${ENV_VAR}`. Values never appear in logs. Default: none.'),
    compression: withDefault(z.enum(['gzip', 'none']), 'gzip', 'Request body compression: `gzip` or `none`.'),
    tls: tlsFilesSchema
      .optional()
      .describe('TLS settings for an https:// endpoint: `{ ca, cert, key, rejectUnauthorized }` with PEM file paths relative to the config file; `cert` and `key` give a client certificate (mutual TLS). Default: the system CAs, no client certificate.'),
    // Written as a Go duration; the validated config holds milliseconds.
    timeout: withDefault(durationMs, '10s', 'Time allowed for one request (Go duration; milliseconds once validated).'),
  });

const googleCloudTraceSink = z.strictObject({
  type: z
    .literal('google-cloud-trace')
    .describe(
      'POST kept traces to Google Cloud Trace through Google\'s OTLP endpoint (the Telemetry API), with a token from Google application-default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud\'s application-default login, or the metadata server), never from this file.',
    ),
  projectId: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Google Cloud project the traces go to: sent as `x-goog-user-project` (unless the credentials name a quota project) and added as the `gcp.project_id` resource attribute where a resource has none. Default: GOOGLE_CLOUD_PROJECT, else the project the credentials name.',
    ),
  endpoint: withDefault(httpUrl, 'https://telemetry.googleapis.com/v1/traces', 'Full URL of the OTLP traces endpoint.'),
  // Written as a Go duration; the validated config holds milliseconds.
  timeout: withDefault(durationMs, '10s', 'Time allowed for one request (Go duration; milliseconds once validated).'),
});

const kafkaSink = z.strictObject({
  type: z.literal('kafka').describe('Produce kept traces to a Kafka topic.'),
  brokers: withDefault(brokersSchema, ['127.0.0.1:9092'], 'Bootstrap brokers, each "host:port".'),
  topic: withDefault(z.string().min(1), 'sampled_spans', 'Topic to produce to.'),
  encoding: withDefault(kafkaEncoding, 'otlp_proto', 'Message encoding: `otlp_proto` or `otlp_json`.'),
  sasl: kafkaSaslSchema,
  tls: kafkaTlsSchema,
});

const zipkinSink = z.strictObject({
  type: z.literal('zipkin').describe('POST kept traces to a Zipkin server as Zipkin v2 JSON, mapped as the OpenTelemetry specification defines for Zipkin.'),
  endpoint: httpUrl.describe('Full URL of the span API, e.g. "http://127.0.0.1:9411/api/v2/spans". Required.'),
  // Written as a Go duration; the validated config holds milliseconds.
  timeout: withDefault(durationMs, '10s', 'Time allowed for one request (Go duration; milliseconds once validated).'),
});

const xrayTraceIdWindow = z
  .strictObject({
    check: withDefault(
      z.boolean(),
      true,
      'Hold back traces whose id X-Ray would refuse: the first 4 bytes of an X-Ray trace id are the epoch second the trace started. Turn off when the senders use W3C (random) trace ids, which X-Ray accepts.',
    ),
    maxAge: withDefault(durationMs, '672h', 'Oldest trace id time sent, before now (Go duration; milliseconds once validated); X-Ray refuses ids older than 30 days.'),
    maxFuture: withDefault(durationMs, '5m', 'Latest trace id time sent, after now: clock skew allowed (Go duration; milliseconds once validated).'),
  })
  .prefault({})
  .describe('Which trace ids are sent; a trace outside the window is logged at warn and counted, not sent. Default: `{ check: true, maxAge: 672h, maxFuture: 5m }`.');

const xraySink = z.strictObject({
  type: z
    .literal('xray')
    .describe(
      'POST kept traces to the AWS X-Ray OTLP endpoint, signed with AWS SigV4. Credentials come from the AWS default chain (environment, shared config and credentials files, SSO, web identity, ECS or EC2 role), never from this file.',
    ),
  region: z
    .string()
    .min(1)
    .optional()
    .describe('AWS region, e.g. "us-east-1". Default: AWS_REGION, else AWS_DEFAULT_REGION from the environment; one of the three is required.'),
  endpoint: httpUrl.optional().describe('Full URL. Default: "https://xray.<region>.amazonaws.com/v1/traces".'),
  // Written as a Go duration; the validated config holds milliseconds.
  timeout: withDefault(durationMs, '10s', 'Time allowed for one request (Go duration; milliseconds once validated).'),
  traceIdWindow: xrayTraceIdWindow,
});

const sinkSchema = z.discriminatedUnion('type', [fileSink, otlpHttpSink, kafkaSink, zipkinSink, xraySink, googleCloudTraceSink]);

const adminSchema = z
  .strictObject({
    host: withDefault(hostSchema, '127.0.0.1', 'Address of the admin HTTP server (`/metrics`, `/healthz`, `/readyz`).'),
    port: withDefault(portSchema, 9464, 'TCP port of the admin HTTP server.'),
  })
  .prefault({})
  .describe('The admin HTTP server. Default: `{ host: 127.0.0.1, port: 9464 }`.');

const limitsSchema = z
  .strictObject({
    maxAttributeValueLength: withDefault(
      z.number().int().min(0),
      0,
      'Longest attribute value kept, in characters (bytes for byte arrays; each element of a list or map on its own). Longer values of span, event, link, scope and resource attributes are cut to this length at intake, as OpenTelemetry SDKs do with OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, and counted; 0: no limit.',
    ),
  })
  .prefault({})
  .describe(
    'Limits on what one span may carry. The per-trace limits (`num_traces`, `max_spans_per_trace`, `maximum_trace_size_bytes`) are in the policy file; the request size is `source.maxBodyBytes`. Default: `{ maxAttributeValueLength: 0 }`.',
  );

export const DEFAULT_POLICY_FILE = 'policies/default.yaml';
export const DEFAULT_FILE_SINK_PATH = 'data/kept.jsonl';

export const engineConfigSchema = z
  .strictObject({
    source: sourceSchema,
    buffer: bufferSchema,
    policies: withDefault(z.string().min(1), DEFAULT_POLICY_FILE, 'Policy file (the Collector\'s `tail_sampling` format); relative to the config file, or to the package for the default.'),
    sinks: z
      .array(sinkSchema)
      .min(1)
      .prefault([{ type: 'file' }])
      .describe('Where kept traces go; every sink must accept a trace before it leaves the buffer. Default: `[{ type: file, path: data/kept.jsonl }]`.'),
    admin: adminSchema,
    limits: limitsSchema,
    baselines: baselinesConfigSchema.describe(
      'Per (service, operation) baselines learned from every span before sampling; the `anomaly` policy and alerts judge against them. Default: in memory, 1h window.',
    ),
    alerts: alertsConfigSchema.describe('Incidents opened when an operation departs from its baseline, and where their notifications go. Default: on, to the log.'),
  })
  .prefault({});

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A validated engine config; paths are absolute. Deeply frozen. */
export type EngineConfig = DeepReadonly<z.output<typeof engineConfigSchema>>;
export type SourceConfig = EngineConfig['source'];
export type BufferConfig = EngineConfig['buffer'];
export type SinkConfig = EngineConfig['sinks'][number];
export type AdminConfig = EngineConfig['admin'];
export type LimitsConfig = EngineConfig['limits'];

export type EngineConfigResult =
  | {
      readonly ok: true;
      readonly config: EngineConfig;
      /** Strings the logger must never write (see `configSecrets`). */
      readonly secrets: readonly string[];
    }
  | { readonly ok: false; readonly problems: readonly string[] };

export interface ConfigLoadOptions {
  /** Where `${VAR}` references and `TAILSIFT_*` settings are read. Default: process.env. */
  readonly env?: Environment;
  /**
   * Apply `TAILSIFT_*` settings over the file (see env-overrides.ts). Default: true for
   * `loadEngineConfig` (what `run` uses), false when validating a file as written.
   */
  readonly envOverrides?: boolean;
}

/** Keys an engine config may have at the top (used to tell configs from policy files). */
export const ENGINE_CONFIG_KEYS: readonly string[] = Object.keys(engineConfigSchema.unwrap().shape);

/**
 * Loads and validates an engine config. Without a path: the embedded defaults. `${VAR}`
 * references in the file are replaced, then `TAILSIFT_*` variables override settings
 * (unless `envOverrides` is false).
 *
 * Relative paths written in the file resolve against the file's folder. The default policy
 * file resolves against the package (it ships with it); the default file sink path and paths
 * from variables against the working directory (they belong to the run, not to the package).
 */
export async function loadEngineConfig(path?: string, options: ConfigLoadOptions = {}): Promise<EngineConfigResult> {
  const withOverrides = { ...options, envOverrides: options.envOverrides ?? true };
  if (path === undefined) return validateDocument(parseYaml('', '(defaults)'), undefined, withOverrides);
  const parsed = await readYamlFile(path);
  if (!('doc' in parsed)) return { ok: false, problems: parsed.problems };
  return validateDocument(parsed, dirname(resolve(path)), withOverrides);
}

/** Validates config text (tests, and `validate` on an already-read file). */
export function parseEngineConfigText(
  text: string,
  fileName: string,
  baseDir: string = dirname(resolve(fileName)),
  options: ConfigLoadOptions = {},
): EngineConfigResult {
  return validateDocument(parseYaml(text, fileName), baseDir, options);
}

/** Validates an already parsed YAML document as an engine config. */
export function validateEngineConfig(parsed: ParsedYaml, baseDir: string, options: ConfigLoadOptions = {}): EngineConfigResult {
  return validateDocument(parsed, baseDir, options);
}

/** `baseDir` undefined: no file (the defaults, plus variables). */
function validateDocument(parsed: ParsedYaml, baseDir: string | undefined, options: ConfigLoadOptions): EngineConfigResult {
  if (parsed.syntaxProblems.length > 0) return { ok: false, problems: parsed.syntaxProblems };
  const env = options.env ?? process.env;
  const substituted = substituteEnvReferences(parsed, env);
  const overridden = options.envOverrides
    ? applyEnvOverrides(substituted.data, env, engineConfigSchema)
    : { data: substituted.data, overrides: [] as EnvOverride[], problems: [] as string[] };
  const view: ParsedYaml = { ...parsed, data: overridden.data };
  const inFile = (path: readonly PathSegment[]): boolean => path.length === 0 || parsed.doc.hasIn(path);
  const origin = (path: readonly PathSegment[]): string | undefined => overrideOrigin(overridden.overrides, path, inFile);
  const result = validateParsed(view, engineConfigSchema, { checks: engineConfigChecks, origin });
  const problems = [
    ...formatProblems(parsed, substituted.problems),
    ...overridden.problems,
    ...(result.ok ? [] : result.problems),
  ];
  if (problems.length > 0 || !result.ok) return { ok: false, problems: [...new Set(problems)] };
  // Cross-field rules of the stages' own sections, checked on the validated values.
  const stageProblems: Problem[] = [
    ...baselinesConfigProblems(result.value.baselines).map((p) => ({ ...p, path: ['baselines', ...p.path] })),
    ...alertsConfigProblems(result.value.alerts).map((p) => ({ ...p, path: ['alerts', ...p.path] })),
  ];
  if (stageProblems.length > 0) return { ok: false, problems: formatProblems(parsed, stageProblems) };
  return finish(result.value, view.data, baseDir, overridden.overrides, substituted.substitutions);
}

function finish(
  config: z.output<typeof engineConfigSchema>,
  raw: unknown,
  baseDir: string | undefined,
  overrides: readonly EnvOverride[],
  substitutions: readonly Substitution[],
): EngineConfigResult {
  const written = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const fromEnv = (path: readonly PathSegment[]): boolean => overrides.some((o) => o.path.length === path.length && o.path.every((p, i) => p === path[i]));
  const policies =
    typeof written.policies === 'string' && baseDir !== undefined && !fromEnv(['policies'])
      ? resolveFrom(baseDir, written.policies)
      : typeof written.policies === 'string'
        ? resolveFrom(process.cwd(), config.policies)
        : resolveFrom(packageRoot(), config.policies);
  const writtenSinks = Array.isArray(written.sinks) ? written.sinks : undefined;
  const sinks = config.sinks.map((sink, index) => {
    if (sink.type !== 'file') return sink;
    const writtenSink = writtenSinks?.[index] as Record<string, unknown> | undefined;
    const inFileDir = typeof writtenSink?.path === 'string' && baseDir !== undefined && !fromEnv(['sinks', index, 'path']);
    return { ...sink, path: resolveFrom(inFileDir ? (baseDir as string) : process.cwd(), sink.path) };
  });
  // Alert file sinks resolve like trace file sinks: against the config file's directory.
  const writtenAlerts = (written.alerts as Record<string, unknown> | undefined)?.sinks;
  const alertSinks = config.alerts.sinks.map((sink, index) => {
    if (sink.type !== 'file') return sink;
    const writtenSink = Array.isArray(writtenAlerts) ? (writtenAlerts[index] as Record<string, unknown> | undefined) : undefined;
    const inFileDir = typeof writtenSink?.path === 'string' && baseDir !== undefined && !fromEnv(['alerts', 'sinks', index, 'path']);
    return { ...sink, path: resolveFrom(inFileDir ? (baseDir as string) : process.cwd(), sink.path) };
  });
  // TLS files resolve against the config file's directory, as the other paths written in it.
  const tlsBase = baseDir ?? process.cwd();
  const source = 'tls' in config.source ? { ...config.source, tls: resolveTlsFiles(tlsBase, config.source.tls) } : config.source;
  const buffer = config.buffer.type === 'redis' ? { ...config.buffer, tls: resolveTlsFiles(tlsBase, config.buffer.tls) } : config.buffer;
  const store = config.baselines.store;
  const baselines = store.type === 'redis' ? { ...config.baselines, store: { ...store, tls: resolveTlsFiles(tlsBase, store.tls) } } : config.baselines;
  const securedSinks = sinks.map((sink) => (sink.type === 'kafka' || sink.type === 'otlp-http' ? { ...sink, tls: resolveTlsFiles(tlsBase, sink.tls) } : sink));
  const frozen = deepFreeze({
    ...config,
    source,
    buffer,
    baselines,
    policies,
    sinks: securedSinks,
    alerts: { ...config.alerts, sinks: alertSinks },
  }) as EngineConfig;
  return { ok: true, config: frozen, secrets: configSecrets(frozen, substitutions) };
}

/** Rules the schema cannot express alone. */
function engineConfigChecks(data: unknown): Problem[] {
  const problems: Problem[] = [];
  if (data === null || typeof data !== 'object') return problems;
  const root = data as Record<string, unknown>;
  const source = (root.source ?? {}) as Record<string, unknown>;
  const admin = root.admin as Record<string, unknown> | undefined;
  const sourcePort = (source.type ?? 'otlp-http') === 'otlp-http' ? (source.port ?? 4318) : undefined;
  const adminPort = admin?.port ?? 9464;
  const sourceHost = source.host ?? '127.0.0.1';
  const adminHost = admin?.host ?? '127.0.0.1';
  if (sourcePort !== undefined && sourcePort !== 0 && sourcePort === adminPort && sourceHost === adminHost) {
    problems.push({
      path: admin?.port !== undefined ? ['admin', 'port'] : ['source', 'port'],
      message: `the receiver and the admin server both want ${String(sourceHost)}:${String(adminPort)}; give one of them another port`,
    });
  }
  problems.push(...tlsProblems(source.tls, ['source', 'tls']));
  if (root.buffer !== null && typeof root.buffer === 'object') problems.push(...tlsProblems((root.buffer as Record<string, unknown>).tls, ['buffer', 'tls']));
  const store = (root.baselines as Record<string, unknown> | undefined)?.store;
  if (store !== null && typeof store === 'object') problems.push(...tlsProblems((store as Record<string, unknown>).tls, ['baselines', 'store', 'tls']));
  if (source.type === 'kafka' && typeof source.deadLetterTopic === 'string' && source.deadLetterTopic === (source.topic ?? 'otlp_spans')) {
    problems.push({
      path: ['source', 'deadLetterTopic'],
      message: `the dead-letter topic is the topic consumed ("${source.deadLetterTopic}"); a poison record would come back forever: name another topic`,
    });
  }
  const sinks = Array.isArray(root.sinks) ? root.sinks : [];
  sinks.forEach((sink, index) => {
    if (sink !== null && typeof sink === 'object') problems.push(...tlsProblems((sink as Record<string, unknown>).tls, ['sinks', index, 'tls']));
  });
  sinks.forEach((sink, index) => {
    if (sink === null || typeof sink !== 'object') return;
    const { type, endpoint, tls } = sink as Record<string, unknown>;
    if (type === 'otlp-http' && tls !== undefined && typeof endpoint === 'string' && endpoint.startsWith('http://')) {
      problems.push({ path: ['sinks', index, 'tls'], message: 'TLS settings apply to an https:// endpoint only; make the endpoint https:// or remove tls' });
    }
  });
  const seenFiles = new Map<string, number>();
  sinks.forEach((sink, index) => {
    if (sink === null || typeof sink !== 'object') return;
    const { type, path } = sink as Record<string, unknown>;
    if (type !== 'file') return;
    const file = typeof path === 'string' ? path : DEFAULT_FILE_SINK_PATH;
    const first = seenFiles.get(file);
    if (first !== undefined) {
      problems.push({ path: ['sinks', index, 'path'], message: `${formatPath(['sinks', first])} already writes to "${file}"; two sinks appending to one file interleave their lines` });
    } else {
      seenFiles.set(file, index);
    }
  });
  return problems;
}

/** TLS settings with their PEM file paths made absolute; `true`, `false` and unset pass through. */
function resolveTlsFiles<T>(base: string, tls: T): T {
  if (tls === null || typeof tls !== 'object') return tls;
  const out: Record<string, unknown> = { ...(tls as Record<string, unknown>) };
  for (const name of ['ca', 'cert', 'key']) {
    const path = out[name];
    if (typeof path === 'string') out[name] = resolveFrom(base, path);
  }
  return out as T;
}

/** A client certificate needs its key and the other way round; say which one is missing. */
function tlsProblems(tls: unknown, path: readonly PathSegment[]): Problem[] {
  if (tls === null || typeof tls !== 'object') return [];
  const { cert, key } = tls as Record<string, unknown>;
  if (cert !== undefined && key === undefined) return [{ path: [...path, 'cert'], message: 'a client certificate needs its private key; add tls.key' }];
  if (key !== undefined && cert === undefined) return [{ path: [...path, 'key'], message: 'a private key is used with its certificate; add tls.cert' }];
  return [];
}

let cachedPackageRoot: string | undefined;

/** The folder holding tailsift's package.json (works from src/ under tests and from dist/). */
export function packageRoot(): string {
  if (cachedPackageRoot !== undefined) return cachedPackageRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return (cachedPackageRoot = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error('tailsift package root not found (no package.json above the config module)');
    dir = parent;
  }
}

function resolveFrom(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/**
 * The engine config reference as Markdown, generated from the schema so the README cannot
 * drift from what the validator accepts.
 */
export function renderEngineConfigReference(): string {
  const lines: string[] = [
    '## Engine config reference',
    '',
    'Every key is optional; a missing key takes the default shown. Unknown keys are rejected.',
    '',
  ];
  const shape = engineConfigSchema.unwrap().shape;
  for (const [key, field] of Object.entries(shape)) {
    lines.push(`### \`${key}\``, '', field.description ?? '', '');
    const variants = objectVariants(field as z.ZodType);
    for (const variant of variants) {
      const variantShape = variant.shape;
      const typeField = variantShape.type as z.ZodType | undefined;
      if (typeField) {
        const literal = (defOf(typeField).values ?? [])[0];
        lines.push(`#### \`${key}\` with \`type: ${String(literal)}\``, '', typeField.description ?? '', '');
      }
      const fields = Object.entries(variantShape).filter(([name]) => name !== 'type');
      if (fields.length === 0) {
        lines.push('No settings.', '');
        continue;
      }
      lines.push('| key | type | description |', '| --- | --- | --- |');
      for (const [name, child] of fields) {
        lines.push(`| \`${name}\` | ${typeName(child as z.ZodType)} | ${(child as z.ZodType).description ?? ''} |`);
      }
      lines.push('');
    }
  }
  return lines.join('\n');
}

function objectVariants(schema: z.ZodType): { shape: Record<string, z.ZodType> }[] {
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'object' && def.shape) return [{ shape: def.shape }];
  if (def.type === 'union' && def.options) return def.options.flatMap((option) => objectVariants(option));
  if (def.type === 'array' && def.element) return objectVariants(def.element);
  return [];
}

function typeName(schema: z.ZodType): string {
  const inner = unwrap(schema);
  const def = defOf(inner);
  switch (def.type) {
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'enum':
      return Object.values(def.entries ?? {}).map((v) => `\`${v}\``).join(' \\| ');
    case 'array':
      return def.element ? `list of ${typeName(def.element)}` : 'list';
    case 'record':
      return def.valueType ? `map of ${typeName(def.valueType)}` : 'map';
    case 'unknown':
      return 'duration';
    default:
      return def.type;
  }
}
