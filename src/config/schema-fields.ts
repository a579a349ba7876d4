import { z } from 'zod';
import { parseDuration } from './duration.js';

/**
 * Field builders shared by every config schema (the engine config and the sections of its
 * stages), so defaults, durations and URLs read and render the same everywhere.
 */

/** A field with its default; the description always states the default, generated from the value. */
export function withDefault<T extends z.ZodType>(schema: T, value: z.input<T>, text: string, shown?: string) {
  const defaultText = shown ?? (typeof value === 'string' ? `"${value}"` : JSON.stringify(value));
  return schema.prefault(value as never).describe(`${text} Default: ${defaultText}.`);
}

/** A Go-style duration string ("30s") that becomes milliseconds, above 0. */
export const durationMs = z.unknown().transform((value, ctx) => {
  const parsed = parseDuration(value);
  if (!parsed.ok) {
    ctx.issues.push({ code: 'custom', message: parsed.error, input: value });
    return z.NEVER;
  }
  if (parsed.ms <= 0) {
    ctx.issues.push({ code: 'custom', message: `must be longer than 0s, got "${String(value)}"`, input: value });
    return z.NEVER;
  }
  return parsed.ms;
});

export const redisUrl = z.string().regex(/^rediss?:\/\/\S+$/, { message: 'expected a redis:// or rediss:// URL, e.g. "redis://127.0.0.1:6379"' });

/** A map without `type` means the default variant, so `source: { port: 9000 }` works. */
export function defaultType(type: string) {
  return (value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value) && !('type' in value) ? { ...value, type } : value;
}

/** Files of a TLS client: who to trust, and this client's own certificate when the server asks for one. */
export const tlsFilesSchema = z.strictObject({
  ca: z.string().min(1).optional().describe('PEM file of the certificate authorities to trust instead of the system ones. Default: the system ones.'),
  cert: z.string().min(1).optional().describe('PEM file of this client\'s certificate (mutual TLS); give `key` with it. Default: none.'),
  key: z.string().min(1).optional().describe('PEM file of the private key of `cert`. Default: none.'),
  rejectUnauthorized: withDefault(z.boolean(), true, 'Refuse a server whose certificate does not verify against `ca`; false only for tests.'),
});
