import type { Substitution } from './env-substitution.js';

/**
 * Keeping secrets out of logs: passwords in URLs (`redis://:pw@host`), sink header values
 * such as `Authorization`, the receiver's bearer token, Kafka SASL passwords, and values taken
 * from environment variables whose names say they are secret (`${REDIS_PASSWORD}`). The
 * logger runs every line through `redactText`, so a secret stays out even when it reaches a
 * log line inside an error message.
 */

export const REDACTED = '***';

// scheme://user:password@ — the password part, in free text or in a JSON-escaped log line.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"'?#\\]*:)([^\s@/"'?#\\]+)@/gi;

const SENSITIVE_NAME = /auth|token|secret|passw|pwd|api[-_]?key|apikey|credential|cookie|session|private[-_]?key|signature/i;

/** Shorter secrets are not searched for in free text: they would blank out ordinary words. */
const MIN_SECRET_LENGTH = 4;
/** A header value this long without spaces looks like a token whatever the header is called. */
const TOKEN_LIKE_LENGTH = 12;

/** `redis://:s3cret@cache:6379` → `redis://:***@cache:6379`. */
export function redactUrl(url: string): string {
  return url.replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/** Whether a header or variable name says its value is a secret (`Authorization`, `X-API-Key`, `REDIS_PASSWORD`). */
export function isSensitiveName(name: string): boolean {
  return SENSITIVE_NAME.test(name);
}

/**
 * The text with URL passwords masked and every known secret replaced by `***`, also where
 * it appears JSON-escaped (log lines are JSON).
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text.includes('://') ? redactUrl(text) : text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && out.includes(escaped)) out = out.split(escaped).join(REDACTED);
  }
  return out;
}

/** The shape of a config this module reads; any engine config fits. */
interface ConfigWithSecrets {
  readonly source?: { readonly type: string; readonly bearerToken?: string; readonly sasl?: { readonly password: string } };
  readonly buffer: { readonly type: string; readonly url?: string };
  readonly sinks: readonly {
    readonly type: string;
    readonly endpoint?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly sasl?: { readonly password: string };
  }[];
}

/** Config keys whose values are secrets whatever they look like: hidden in `redactedConfig`. */
const SECRET_KEYS = new Set(['bearerToken', 'password']);

/**
 * The secrets a config holds, longest first (so a secret inside another is not half
 * replaced): URL passwords (as written and decoded), sink header values that are secret by
 * name or look like tokens, and values substituted from variables with secret names.
 */
export function configSecrets(config: ConfigWithSecrets, substitutions: readonly Substitution[] = []): string[] {
  const found = new Set<string>();
  const fromUrl = (url: string | undefined): void => {
    if (url === undefined) return;
    try {
      const password = new URL(url).password;
      if (password !== '') {
        found.add(password);
        found.add(decodeURIComponent(password));
      }
    } catch {
      // Not a URL: validation already refused it, and the text pattern still masks it.
    }
  };
  fromUrl(config.buffer.url);
  if (config.source?.bearerToken !== undefined) found.add(config.source.bearerToken);
  if (config.source?.sasl !== undefined) found.add(config.source.sasl.password);
  for (const sink of config.sinks) {
    fromUrl(sink.endpoint);
    if (sink.sasl !== undefined) found.add(sink.sasl.password);
    for (const [name, value] of Object.entries(sink.headers ?? {})) {
      if (isSensitiveName(name) || (value.length >= TOKEN_LIKE_LENGTH && !/\s/.test(value))) {
        found.add(value);
        // `Bearer abc...`: the token alone may show up elsewhere.
        const lastWord = value.split(/\s+/).pop();
        if (lastWord !== undefined) found.add(lastWord);
      }
    }
  }
  for (const s of substitutions) if (isSensitiveName(s.variable)) found.add(s.value);
  return [...found].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

/**
 * A copy of a config fit for a log line: URL passwords masked, every header value hidden, and
 * the receiver's bearer token and SASL passwords hidden.
 */
export function redactedConfig<T>(config: T): T {
  const visit = (value: unknown, key: string | undefined): unknown => {
    if (typeof value === 'string') return value.includes('://') ? redactUrl(value) : value;
    if (Array.isArray(value)) return value.map((item) => visit(item, undefined));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        out[k] = key === 'headers' || (SECRET_KEYS.has(k) && typeof v === 'string') ? REDACTED : visit(v, k);
      }
      return out;
    }
    return value;
  };
  return visit(config, undefined) as T;
}
