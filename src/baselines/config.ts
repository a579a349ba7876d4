import { z } from 'zod';
import { defaultType, durationMs, redisUrl, tlsFilesSchema, withDefault } from '../config/schema-fields.js';

/**
 * The `baselines` section of the engine config: how per-(service, operation) baselines are
 * kept, where they are shared, and when an operation's recent behaviour counts as departing
 * from them. Every key is optional; the schema is the single source of the defaults.
 */

const memoryStore = z.strictObject({
  type: z.literal('memory').describe('Baselines live in this process: each instance learns from the spans it receives.'),
});

const redisStore = z.strictObject({
  type: z.literal('redis').describe('Instances add their per-window counts to Redis and read the merged windows back.'),
  url: withDefault(redisUrl, 'redis://127.0.0.1:6379', 'Redis server URL: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Write the password as `${ENV_VAR}`; it never appears in logs.'),
  tls: tlsFilesSchema
    .optional()
    .describe('TLS settings `{ ca, cert, key, rejectUnauthorized }` (PEM file paths relative to the config file), as for `buffer.tls`; giving them turns TLS on even with `redis://`. Alerts use the same connection settings. Default: none.'),
  prefix: withDefault(z.string().min(1).regex(/^[^{}\s]+$/, { message: 'must not contain spaces or braces' }), 'tailsift', 'Prefix of every key; instances sharing baselines use the same prefix.'),
  flushInterval: withDefault(durationMs, '2s', 'How often this instance writes its counts and reads the merged windows (Go duration; milliseconds once validated).'),
});

const storeSchema = z
  .preprocess(defaultType('memory'), z.discriminatedUnion('type', [memoryStore, redisStore]))
  .prefault({ type: 'memory' })
  .describe('Where the per-window counts live. Default: `{ type: memory }`.');

const departureSchema = z
  .strictObject({
    minSpans: withDefault(z.number().int().min(1), 20, 'Spans an operation needs in the recent window before it can count as departing.'),
    latencyZ: withDefault(z.number().positive(), 5, 'Rank-test z-score (recent latencies against the baseline) from which latency counts as shifted.'),
    latencyRatio: withDefault(z.number().min(1), 1.5, 'The recent p50 or p90 must also be at least this many times the baseline\'s.'),
    errorZ: withDefault(z.number().positive(), 5, 'Binomial-test z-score (recent errors against the baseline error rate) from which errors count as a spike.'),
    minErrorRate: withDefault(z.number().gt(0).max(1), 0.05, 'The recent error rate must also reach this share of spans.'),
    errorRatio: withDefault(z.number().min(1), 3, 'The recent error rate must also be at least this many times the baseline\'s.'),
  })
  .prefault({})
  .describe('When an operation\'s recent window counts as departing from its baseline (for keeping traces and for incidents). Default: each key at its default.');

export const baselinesConfigSchema = z
  .strictObject({
    store: storeSchema,
    slot: withDefault(durationMs, '10s', 'Width of one time window of counts; the unit in which windows slide (Go duration; milliseconds once validated).'),
    window: withDefault(durationMs, '1h', 'How far back a baseline looks (Go duration; milliseconds once validated).'),
    halfLife: withDefault(durationMs, '15m', 'Age at which a window\'s counts weigh half in the baseline (Go duration; milliseconds once validated).'),
    recent: withDefault(durationMs, '30s', 'The recent window compared with the baseline; the baseline leaves it out (Go duration; milliseconds once validated).'),
    minSamples: withDefault(z.number().int().min(1), 200, 'Spans an operation\'s baseline needs before its spans are judged.'),
    warmup: withDefault(durationMs, '5m', 'Time after the first span before an operation or call edge seen for the first time counts as new (Go duration; milliseconds once validated).'),
    newFor: withDefault(durationMs, '15m', 'How long an operation or call edge first seen after the warm-up keeps counting as new, however often it is seen meanwhile (a new dependency stays suspect while people can still act on it); past that it stays new only until its baseline has `minSamples` spans (Go duration; milliseconds once validated).'),
    workAttributes: withDefault(
      z.array(z.string().min(1)).max(8).readonly(),
      ['gen_ai.usage.output_tokens'],
      'Span attributes that say how much work a span did (a positive number). A span carrying one is judged by its latency per unit of that work (e.g. ms per output token) against the same figure of its operation\'s spans that did about as much work (within a factor of 2), instead of by its plain latency: a slow call stands out however widely the work varies, and a span that is merely long because it did more work does not. The first attribute a span carries counts; a span whose amount of work has no baseline yet is judged by its plain latency.',
    ),
    absorbThreshold: withDefault(z.number().positive(), 4, 'A span scoring at least this much (latency or error) is kept out of its baseline, so anomalies do not become normal; so are the spans taking part in a departure. Above the policies\' threshold on purpose: a long tail that is only somewhat rare must stay in the baseline, or it keeps looking anomalous.'),
    maxOperations: withDefault(z.number().int().min(1), 2000, '(service, operation) pairs tracked at most; spans of further pairs are counted as overflow and not judged.'),
    maxEdges: withDefault(z.number().int().min(1), 5000, 'Parent service → child service edges tracked at most.'),
    departure: departureSchema,
  })
  .prefault({});

export type BaselinesConfig = z.output<typeof baselinesConfigSchema>;
export type BaselineStoreConfig = BaselinesConfig['store'];
export type DepartureSettings = BaselinesConfig['departure'];

/** Cross-field rules, with the fix in the message. Empty when the config is consistent. */
export function baselinesConfigProblems(config: BaselinesConfig): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (config.recent < config.slot) {
    problems.push({ path: ['recent'], message: `recent (${config.recent}ms) must be at least one slot (${config.slot}ms); raise recent or lower slot` });
  }
  if (config.window < config.recent + config.slot) {
    problems.push({ path: ['window'], message: `window (${config.window}ms) must be longer than recent + one slot (${config.recent + config.slot}ms); raise window` });
  }
  if (config.window / config.slot > 100_000) {
    problems.push({ path: ['slot'], message: `window / slot is ${Math.round(config.window / config.slot)} windows per operation; raise slot to keep it under 100000` });
  }
  return problems;
}

/** The defaults, parsed (library use and tests). */
export function defaultBaselinesConfig(overrides: Record<string, unknown> = {}): BaselinesConfig {
  return baselinesConfigSchema.parse(overrides);
}
