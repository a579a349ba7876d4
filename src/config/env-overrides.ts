import type { z } from 'zod';
import type { Environment } from './env-substitution.js';
import { formatPath, suggest, type PathSegment } from './yaml-validation.js';
import { defOf, unwrap } from './schema-introspection.js';

/**
 * Engine config settings from `TAILSIFT_*` environment variables, for deployments that set a
 * port or a Redis URL per environment without editing the file.
 *
 * The variable for a setting is `TAILSIFT_` and its path with every key in UPPER_SNAKE_CASE,
 * joined by `_`, list entries by their index: `source.port` → `TAILSIFT_SOURCE_PORT`,
 * `source.maxBodyBytes` → `TAILSIFT_SOURCE_MAX_BODY_BYTES`, `buffer.url` → `TAILSIFT_BUFFER_URL`,
 * `sinks[0].endpoint` → `TAILSIFT_SINKS_0_ENDPOINT`. A variable wins over the file.
 * Numbers and `true`/`false` are read as such, lists are comma-separated
 * (`TAILSIFT_SOURCE_BROKERS=k1:9092,k2:9092`); maps (sink headers) cannot be set this way:
 * write `${VAR}` in the file instead.
 *
 * Only variables whose first word names a top-level key (`SOURCE`, `BUFFER`, ...) are
 * settings, so other `TAILSIFT_*` variables (`TAILSIFT_LOG_LEVEL`) are left alone; under a
 * known key, a name that matches no setting is a problem, so a typo is not silently ignored.
 */

export const ENV_PREFIX = 'TAILSIFT_';

/** How a variable's text becomes a value. */
export type EnvValueKind = 'string' | 'number' | 'boolean' | 'list';

/** A setting that can come from the environment. */
export interface EnvSetting {
  /** Config path; `'*'` stands for a list index. */
  readonly path: readonly PathSegment[];
  /** `TAILSIFT_SINKS_<n>_ENDPOINT` for list entries. */
  readonly variable: string;
  readonly kind: EnvValueKind;
}

/** One variable applied to the config. */
export interface EnvOverride {
  readonly variable: string;
  readonly path: readonly PathSegment[];
  readonly value: unknown;
}

export interface EnvOverridesResult {
  readonly data: unknown;
  readonly overrides: readonly EnvOverride[];
  /** `env:TAILSIFT_SOURCE_PROT: no such setting; did you mean TAILSIFT_SOURCE_PORT?` */
  readonly problems: readonly string[];
}

/** `maxBodyBytes` → `MAX_BODY_BYTES`. */
export function upperSnake(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();
}

/** The variable that sets `path`, e.g. `['sinks', 0, 'endpoint']` → `TAILSIFT_SINKS_0_ENDPOINT`. */
export function envVariableFor(path: readonly PathSegment[]): string {
  return ENV_PREFIX + path.map((segment) => (typeof segment === 'number' ? String(segment) : segment === '*' ? '<n>' : upperSnake(segment))).join('_');
}

/** Every setting of a config schema that a variable can set, in schema order. */
export function envSettings(schema: z.ZodType): EnvSetting[] {
  const seen = new Map<string, EnvSetting>();
  const walk = (node: z.ZodType, path: PathSegment[]): void => {
    const inner = unwrap(node);
    const def = defOf(inner);
    switch (def.type) {
      case 'object':
        for (const [key, child] of Object.entries(def.shape ?? {})) walk(child, [...path, key]);
        return;
      case 'union':
        for (const option of def.options ?? []) walk(option, path);
        return;
      case 'array': {
        const element = def.element === undefined ? undefined : unwrap(def.element);
        const elementType = element === undefined ? undefined : defOf(element).type;
        if (elementType === 'object' || elementType === 'union') walk(def.element as z.ZodType, [...path, '*']);
        else add(path, 'list');
        return;
      }
      case 'record':
        // Map keys are free text (header names) that a variable name cannot carry.
        return;
      case 'number':
        add(path, 'number');
        return;
      case 'boolean':
        add(path, 'boolean');
        return;
      default:
        add(path, 'string');
    }
  };
  const add = (path: PathSegment[], kind: EnvValueKind): void => {
    const variable = envVariableFor(path);
    if (!seen.has(variable)) seen.set(variable, { path, variable, kind });
  };
  walk(schema, []);
  return [...seen.values()];
}

/**
 * Applies the `TAILSIFT_*` settings found in `env` to a copy of `data` (the config file's
 * data, or `{}` without a file). Variables are applied in name order, so the outcome does
 * not depend on the environment's order.
 */
export function applyEnvOverrides(data: unknown, env: Environment, schema: z.ZodType): EnvOverridesResult {
  const settings = envSettings(schema);
  const sections = [...new Set(settings.map((s) => upperSnake(String(s.path[0]))))];
  const matchers = settings.map((setting) => ({
    setting,
    pattern: new RegExp(`^${setting.path.map((segment) => (segment === '*' ? '(\\d+)' : upperSnake(String(segment)))).join('_')}$`),
  }));

  let root: unknown = data === undefined || data === null ? {} : structuredClone(data);
  const overrides: EnvOverride[] = [];
  const problems: string[] = [];
  const names = Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && env[name] !== undefined)
    .sort();

  for (const variable of names) {
    const rest = variable.slice(ENV_PREFIX.length);
    if (!sections.some((section) => rest === section || rest.startsWith(`${section}_`))) continue;
    const raw = env[variable] as string;
    let found: { setting: EnvSetting; path: PathSegment[] } | undefined;
    for (const { setting, pattern } of matchers) {
      const match = pattern.exec(rest);
      if (match === null) continue;
      const indexes = match.slice(1).map(Number);
      found = { setting, path: setting.path.map((segment) => (segment === '*' ? (indexes.shift() as number) : segment)) };
      break;
    }
    if (found === undefined) {
      const candidates = settings.map((s) => s.variable.replace(/<n>/g, '0'));
      const guess = suggest(variable, candidates);
      problems.push(`env:${variable}: no such setting${guess === undefined ? `; settings under ${ENV_PREFIX}${rest.split('_')[0]}_ are listed in the config reference` : `; did you mean ${guess}?`}`);
      continue;
    }
    const value = coerce(raw, found.setting.kind);
    if (!value.ok) {
      problems.push(`env:${variable}: ${formatPath(found.path)}: ${value.message}`);
      continue;
    }
    const placed = setAt(root, found.path, value.value);
    if (!placed.ok) {
      problems.push(`env:${variable}: ${formatPath(found.path)}: ${placed.message}`);
      continue;
    }
    root = placed.root;
    overrides.push({ variable, path: found.path, value: value.value });
  }
  return { data: root, overrides, problems };
}

/**
 * The variable behind a problem's path: one that set this path or a path above it, or, for a
 * path the file does not have (a missing key in a list entry a variable created), one that
 * set a value next to it.
 */
export function overrideOrigin(
  overrides: readonly EnvOverride[],
  path: readonly PathSegment[],
  inFile: (path: readonly PathSegment[]) => boolean,
): string | undefined {
  const startsWith = (long: readonly PathSegment[], short: readonly PathSegment[]): boolean =>
    short.length <= long.length && short.every((segment, i) => segment === long[i]);
  let best: EnvOverride | undefined;
  for (const o of overrides) {
    if (startsWith(path, o.path) && (best === undefined || o.path.length > best.path.length)) best = o;
  }
  if (best !== undefined) return `env:${best.variable}`;
  if (path.length === 0 || inFile(path.slice(0, -1))) return undefined;
  const sibling = overrides.find((o) => startsWith(o.path, path.slice(0, -1)));
  return sibling === undefined ? undefined : `env:${sibling.variable}`;
}

function coerce(raw: string, kind: EnvValueKind): { ok: true; value: unknown } | { ok: false; message: string } {
  switch (kind) {
    case 'number': {
      const text = raw.trim();
      if (!/^[-+]?\d+(\.\d+)?$/.test(text)) return { ok: false, message: `expected a number, got "${raw}"` };
      return { ok: true, value: Number(text) };
    }
    case 'boolean': {
      const text = raw.trim().toLowerCase();
      if (text !== 'true' && text !== 'false') return { ok: false, message: `expected true or false, got "${raw}"` };
      return { ok: true, value: text === 'true' };
    }
    case 'list':
      return {
        ok: true,
        value: raw
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== ''),
      };
    default:
      return { ok: true, value: raw };
  }
}

type Placed = { ok: true; root: unknown } | { ok: false; message: string };

function setAt(root: unknown, path: readonly PathSegment[], value: unknown): Placed {
  if (path.length === 0) return { ok: true, root: value };
  const holder = root ?? (typeof path[0] === 'number' ? [] : {});
  if (typeof path[0] === 'number') {
    if (!Array.isArray(holder)) return { ok: false, message: 'the file has no list here' };
    const index = path[0];
    if (index > holder.length) {
      return { ok: false, message: `the list has ${holder.length} entries here; a variable can add entry ${holder.length}, not skip to ${index}` };
    }
    const child = setAt(holder[index], path.slice(1), value);
    if (!child.ok) return child;
    holder[index] = child.root;
    return { ok: true, root: holder };
  }
  if (typeof holder !== 'object' || Array.isArray(holder)) return { ok: false, message: 'the file does not have a map here' };
  const record = holder as Record<string, unknown>;
  const key = path[0];
  const child = setAt(record[key], path.slice(1), value);
  if (!child.ok) return child;
  record[key] = child.root;
  return { ok: true, root: record };
}
