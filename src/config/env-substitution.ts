import { isScalar } from 'yaml';
import type { ParsedYaml, PathSegment, Problem } from './yaml-validation.js';

/** The environment as config loading sees it (process.env, or a test's own). */
export type Environment = Readonly<Record<string, string | undefined>>;

/** One `${VAR}` reference that was replaced, for redaction (its value may be a secret). */
export interface Substitution {
  readonly variable: string;
  readonly value: string;
  readonly path: readonly PathSegment[];
}

export interface SubstitutionResult {
  /** The document's data with every reference replaced. */
  readonly data: unknown;
  readonly substitutions: readonly Substitution[];
  /** References that could not be resolved; their values are left out of `data`. */
  readonly problems: readonly Problem[];
}

// `$$` is a literal `$`, as in the Collector's config; `${...}` is a reference.
const REFERENCE = /\$\$|\$\{([^}]*)\}/g;
const INNER = /^(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;
const WHOLE_REFERENCE = /^\$\{[^}]*\}$/;

/**
 * Replaces `${VAR}`, `${VAR:-default}` and the Collector's `${env:VAR}` in the string values of
 * a config (not in keys), so secrets such as `${REDIS_PASSWORD}` stay out of the file.
 *
 * `:-` gives the default when the variable is unset or empty, as in a shell; a variable that
 * is unset without a default is a problem at that value, never silently empty. A plain
 * (unquoted) value that is a single reference takes the type its text reads as, so
 * `port: ${PORT}` is a number; a quoted one, or a reference inside other text, stays a string.
 */
export function substituteEnvReferences(parsed: ParsedYaml, env: Environment): SubstitutionResult {
  const substitutions: Substitution[] = [];
  const problems: Problem[] = [];

  const visit = (value: unknown, path: PathSegment[]): unknown => {
    if (typeof value === 'string') return value.includes('$') ? substitute(value, path) : value;
    if (Array.isArray(value)) return value.map((item, i) => visit(item, [...path, i]));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        const replaced = visit(child, [...path, key]);
        if (replaced !== undefined) out[key] = replaced;
      }
      return out;
    }
    return value;
  };

  const substitute = (text: string, path: PathSegment[]): unknown => {
    let failed = false;
    const replaced = text.replace(REFERENCE, (match, inner: string | undefined) => {
      if (match === '$$') return '$';
      const parts = INNER.exec(inner ?? '');
      if (parts === null) {
        failed = true;
        problems.push({ path, message: `"${match}" is not a variable reference; write \${NAME} or \${NAME:-default}, and $$ for a literal $` });
        return match;
      }
      const [, variable, fallback] = parts;
      const set = env[variable];
      if (set !== undefined && !(fallback !== undefined && set === '')) {
        substitutions.push({ variable, value: set, path });
        return set;
      }
      if (fallback !== undefined) return fallback;
      failed = true;
      problems.push({ path, message: `environment variable ${variable} is not set; set it, or give a default: \${${variable}:-value}` });
      return match;
    });
    if (failed) return undefined;
    return WHOLE_REFERENCE.test(text) && isPlainScalar(parsed, path) ? typed(replaced) : replaced;
  };

  return { data: visit(parsed.data, []), substitutions, problems };
}

function isPlainScalar(parsed: ParsedYaml, path: readonly PathSegment[]): boolean {
  const node = parsed.doc.getIn(path, true);
  return isScalar(node) && node.type === 'PLAIN';
}

/** A substituted value as YAML would read it unquoted: numbers and booleans, else the text. */
function typed(text: string): unknown {
  const trimmed = text.trim();
  if (/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(trimmed)) {
    const n = Number(trimmed);
    if (Number.isFinite(n)) return n;
  }
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  return text;
}
