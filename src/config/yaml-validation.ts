import { readFile } from 'node:fs/promises';
import { closest, distance } from 'fastest-levenshtein';
import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node, Pair, ScalarTag } from 'yaml';
import type { z } from 'zod';
import { defOf, type SchemaDef } from './schema-introspection.js';

/**
 * YAML files validated against a zod schema, with every problem reported as one line
 * `FILE:LINE:COL: <path>: <reason>` that points at the offending node of the source.
 *
 * Shared by the engine config and the policy file so both speak the same error language.
 */

export type PathSegment = string | number;

/**
 * One problem before it is placed in the file. `at` says which node the position names:
 * the value at `path` (default), the key of the last path segment (unknown keys), or the
 * object holding the last segment (missing keys).
 */
export interface Problem {
  readonly path: readonly PathSegment[];
  readonly message: string;
  readonly at?: 'value' | 'key' | 'parent';
}

export interface SourcePosition {
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
}

/** A parsed YAML file that keeps the source positions of its nodes. */
export interface ParsedYaml {
  readonly fileName: string;
  readonly doc: Document.Parsed;
  readonly lineCounter: LineCounter;
  /** The document as plain data; undefined when the file is empty or could not be read. */
  readonly data: unknown;
  /** YAML syntax problems, already formatted. */
  readonly syntaxProblems: readonly string[];
}

export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T; readonly parsed: ParsedYaml }
  | { readonly ok: false; readonly problems: readonly string[] };

export interface ValidateOptions {
  /**
   * Checks beyond the schema (cross-field rules). They run on the raw data even when the
   * schema reports problems, so a file's problems all come out at once; a check must
   * therefore tolerate values of the wrong type.
   */
  readonly checks?: (data: unknown) => readonly Problem[];
  /** A better reason for an unknown key than the generic suggestion, when the caller knows one. */
  readonly unknownKeyReason?: (path: readonly PathSegment[], key: string, validKeys: readonly string[]) => string | undefined;
  /** A better reason for an unknown discriminator value (e.g. a policy `type`). */
  readonly unknownVariantReason?: (value: unknown, options: readonly string[], path: readonly PathSegment[]) => string | undefined;
  /**
   * Where a value came from when not from the file (e.g. `env:TAILSIFT_SOURCE_PORT`); a
   * problem at such a path names that origin instead of a file position.
   */
  readonly origin?: ProblemOrigin;
}

/** The origin of the value at a path when it is not the file's, else undefined. */
export type ProblemOrigin = (path: readonly PathSegment[]) => string | undefined;

/**
 * Integers written with digit separators (`100_000`), as in the Collector's own README: its
 * YAML reader accepts them, YAML 1.2's core schema would read a string.
 */
const intWithSeparators: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  test: /^[-+]?[0-9][0-9_]*[0-9]$/,
  resolve: (source: string) => Number(source.replace(/_/g, '')),
};

/** Parses YAML text, keeping positions. Syntax errors become problems with their position. */
export function parseYaml(text: string, fileName: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    customTags: (tags) => [...tags, intWithSeparators],
  });
  const syntaxProblems = doc.errors.map((error) => {
    const pos = lineCounter.linePos(error.pos[0]);
    return `${fileName}:${pos.line}:${pos.col}: (syntax): ${firstLine(error.message)}`;
  });
  // A tag the YAML 1.2 core schema does not know (`!!js/function`, `!custom`) is only a
  // warning to the parser, which then keeps the text; a config must not silently read what
  // its writer meant as something else.
  for (const warning of doc.warnings) {
    if (warning.code !== 'TAG_RESOLVE_FAILED') continue;
    const pos = lineCounter.linePos(warning.pos[0]);
    syntaxProblems.push(`${fileName}:${pos.line}:${pos.col}: (syntax): ${firstLine(warning.message)}; tags are not supported, write the value as plain YAML`);
  }
  let data: unknown;
  if (syntaxProblems.length === 0) {
    try {
      // A small alias budget keeps a "billion laughs" file from exhausting memory.
      data = doc.contents === null ? undefined : doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      syntaxProblems.push(`${fileName}:1:1: (syntax): ${firstLine((err as Error).message)}`);
    }
  }
  return { fileName, doc, lineCounter, data, syntaxProblems };
}

/** Reads and parses a YAML file; an unreadable file is one problem. */
export async function readYamlFile(
  path: string,
  fileName: string = path,
): Promise<ParsedYaml | { readonly problems: readonly string[]; readonly unreadable: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const unreadable = `cannot read file: ${describeFsError(err)}`;
    return { problems: [`${fileName}:1:1: (file): ${unreadable}`], unreadable };
  }
  return parseYaml(text, fileName);
}

/** Validates parsed YAML against a schema; all problems at once, ordered by position. */
export function validateParsed<S extends z.ZodType>(parsed: ParsedYaml, schema: S, options: ValidateOptions = {}): ValidationResult<z.output<S>> {
  if (parsed.syntaxProblems.length > 0) return { ok: false, problems: parsed.syntaxProblems };
  const result = schema.safeParse(parsed.data, { reportInput: true });
  let problems: SchemaProblem[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...issueToProblems(issue, [], schema, parsed.data, options));
    problems = withoutMissingKeysExplainedByTypos(problems);
  }
  if (options.checks) problems.push(...options.checks(parsed.data));
  if (problems.length === 0 && result.success) return { ok: true, value: result.data, parsed };
  return { ok: false, problems: formatProblems(parsed, problems, options.origin) };
}

/** Parses and validates YAML text. */
export function validateYamlText<S extends z.ZodType>(text: string, fileName: string, schema: S, options: ValidateOptions = {}): ValidationResult<z.output<S>> {
  return validateParsed(parseYaml(text, fileName), schema, options);
}

/** Reads, parses and validates a YAML file. `fileName` is how problems name the file. */
export async function validateYamlFile<S extends z.ZodType>(
  path: string,
  schema: S,
  options: ValidateOptions = {},
  fileName: string = path,
): Promise<ValidationResult<z.output<S>>> {
  const parsed = await readYamlFile(path, fileName);
  if (!('doc' in parsed)) return { ok: false, problems: parsed.problems };
  return validateParsed(parsed, schema, options);
}

/**
 * Places problems in the file, sorts them by position and drops duplicates. A problem whose
 * value has another `origin` names it instead (`env:TAILSIFT_ADMIN_PORT: admin.port: ...`)
 * and comes after the file's problems.
 */
export function formatProblems(parsed: ParsedYaml, problems: readonly Problem[], origin?: ProblemOrigin): string[] {
  const placed = problems.map((problem) => {
    const from = origin?.(problem.path);
    if (from !== undefined) return { pos: { line: Number.MAX_SAFE_INTEGER, col: 0 }, line: `${from}: ${formatPath(problem.path)}: ${problem.message}` };
    const pos = locate(parsed, problem.path, problem.at ?? 'value');
    return { pos, line: `${parsed.fileName}:${pos.line}:${pos.col}: ${formatPath(problem.path)}: ${problem.message}` };
  });
  placed.sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  return [...new Set(placed.map((p) => p.line))];
}

/** `policies[2].latency.threshold_ms`; `(root)` for the document itself. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === '' ? '(root)' : out;
}

/** Where a path points in the source. Falls back to the nearest ancestor that exists. */
export function locate(parsed: ParsedYaml, path: readonly PathSegment[], at: 'value' | 'key' | 'parent'): SourcePosition {
  if (at === 'parent' && path.length > 0) return locateParent(parsed, path.slice(0, -1));
  if (at === 'key' && path.length > 0) {
    const pair = pairAt(parsed.doc, path);
    const keyStart = pair && isNode(pair.key) ? pair.key.range?.[0] : undefined;
    if (keyStart !== undefined) return parsed.lineCounter.linePos(keyStart);
  }
  for (let depth = path.length; depth >= 0; depth--) {
    const node = nodeAt(parsed.doc, path.slice(0, depth));
    const start = node?.range?.[0];
    if (start !== undefined && !isEmptyScalar(node)) return parsed.lineCounter.linePos(start);
    // An empty value (`latency:` with nothing after it) has no useful position; its key does.
    if (depth > 0 && typeof path[depth - 1] === 'string') {
      const pair = pairAt(parsed.doc, path.slice(0, depth));
      const keyStart = pair && isNode(pair.key) ? pair.key.range?.[0] : undefined;
      if (keyStart !== undefined) return parsed.lineCounter.linePos(keyStart);
    }
  }
  return { line: 1, col: 1 };
}

function locateParent(parsed: ParsedYaml, parentPath: readonly PathSegment[]): SourcePosition {
  const node = nodeAt(parsed.doc, parentPath);
  const isEmptyCollection = node && (isMap(node) || isSeq(node)) && node.items.length === 0;
  if (node && !isEmptyScalar(node) && !isEmptyCollection && node.range) return parsed.lineCounter.linePos(node.range[0]);
  if (parentPath.length > 0 && typeof parentPath[parentPath.length - 1] === 'string') {
    const pair = pairAt(parsed.doc, parentPath);
    const keyStart = pair && isNode(pair.key) ? pair.key.range?.[0] : undefined;
    if (keyStart !== undefined) return parsed.lineCounter.linePos(keyStart);
  }
  return locate(parsed, parentPath, 'value');
}

/** A value left blank (`latency:` and nothing after it): no source text to point at. */
function isEmptyScalar(node: Node | undefined): boolean {
  return node !== undefined && isScalar(node) && node.value === null && node.range != null && node.range[0] === node.range[1];
}

function nodeAt(doc: Document.Parsed, path: readonly PathSegment[]): Node | undefined {
  if (path.length === 0) return doc.contents ?? undefined;
  const node = doc.getIn(path, true);
  return isNode(node) ? node : undefined;
}

function pairAt(doc: Document.Parsed, path: readonly PathSegment[]): Pair | undefined {
  const parent = nodeAt(doc, path.slice(0, -1));
  const key = path[path.length - 1];
  if (!parent || !isMap(parent)) return undefined;
  return parent.items.find((pair) => scalarKey(pair.key) === key);
}

function scalarKey(key: unknown): unknown {
  return isScalar(key) ? key.value : key;
}

/**
 * The closest candidate to `word`, if it is close enough to be what the author meant:
 * a case-insensitive match, or an edit distance of at most a third of the word, and at
 * least 2 for words over 3 letters so a swapped pair (`prot`, `port`) still counts.
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const lower = word.toLowerCase();
  const sameIgnoringCase = candidates.find((c) => c.toLowerCase() === lower);
  if (sameIgnoringCase !== undefined) return sameIgnoringCase;
  const best = closest(word, [...candidates]);
  const allowed = word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3));
  return distance(word, best) <= allowed ? best : undefined;
}

/** `unknown key "treshold_ms"; did you mean "threshold_ms"?`, or the list of valid keys. */
export function unknownKeyReason(key: string, validKeys: readonly string[]): string {
  const guess = suggest(key, validKeys);
  if (guess !== undefined) return `unknown key "${key}"; did you mean "${guess}"?`;
  if (validKeys.length === 0) return `unknown key "${key}"; no keys are allowed here`;
  return `unknown key "${key}"; valid keys: ${validKeys.join(', ')}`;
}

/** `invalid value "error"; did you mean "ERROR"?`, or the list of valid values. */
export function invalidChoiceReason(what: string, value: unknown, choices: readonly string[]): string {
  const shown = typeof value === 'string' ? `"${value}"` : describeValue(value);
  const guess = typeof value === 'string' ? suggest(value, choices) : undefined;
  if (guess !== undefined) return `${what} ${shown}; did you mean "${guess}"?`;
  return `${what} ${shown}; expected one of: ${choices.join(', ')}`;
}

/** A value as problems show it: `string "abc"`, `number 5`, `a list`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

type AnyIssue = z.core.$ZodIssue;

/** A problem from the schema, with what is needed to relate typos to missing keys. */
interface SchemaProblem extends Problem {
  /** An unknown key's closest valid key. */
  readonly suggests?: string;
  /** The key a "missing required key" problem is about. */
  readonly missingKey?: string;
}

/** `treshold_ms` unknown and `threshold_ms` missing are one mistake: report only the typo. */
function withoutMissingKeysExplainedByTypos(problems: SchemaProblem[]): SchemaProblem[] {
  const typoFixes = new Set(
    problems.filter((p) => p.suggests !== undefined).map((p) => JSON.stringify([...p.path.slice(0, -1), p.suggests])),
  );
  return problems.filter((p) => p.missingKey === undefined || !typoFixes.has(JSON.stringify(p.path)));
}

function issueToProblems(
  issue: AnyIssue,
  prefix: readonly PathSegment[],
  rootSchema: z.ZodType,
  rootData: unknown,
  options: ValidateOptions,
): SchemaProblem[] {
  const path: PathSegment[] = [...prefix, ...(issue.path as PathSegment[])];
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const validKeys = objectKeysAt(rootSchema, path, rootData);
      return issue.keys.map((key) => ({
        path: [...path, key],
        at: 'key' as const,
        message: options.unknownKeyReason?.(path, key, validKeys) ?? unknownKeyReason(key, validKeys),
        suggests: suggest(key, validKeys),
      }));
    }
    case 'invalid_type':
      if (input === undefined) {
        const key = path[path.length - 1];
        if (path.length === 0) return [{ path, message: 'the file is empty; expected a map of settings' }];
        if (typeof key !== 'string') return [{ path, at: 'parent', message: 'missing value' }];
        return [{ path, at: 'parent', message: `missing required key "${key}"`, missingKey: key }];
      }
      return [{ path, message: `expected ${expectedName(issue.expected)}, got ${describeValue(input)}` }];
    case 'invalid_value':
      return [{ path, message: invalidChoiceReason('invalid value', input, issue.values.map(String)) }];
    case 'invalid_union': {
      const withDiscriminator = issue as typeof issue & { discriminator?: string; options?: unknown[] };
      if (withDiscriminator.discriminator !== undefined) {
        const choices = (withDiscriminator.options ?? []).map(String);
        const holder = input as Record<string, unknown> | undefined;
        const value = holder && typeof holder === 'object' ? holder[withDiscriminator.discriminator] : undefined;
        if (value === undefined) {
          return [{ path, at: 'parent', message: `missing required key "${withDiscriminator.discriminator}"; one of: ${choices.join(', ')}` }];
        }
        const message =
          options.unknownVariantReason?.(value, choices, path) ?? invalidChoiceReason(`unknown ${withDiscriminator.discriminator}`, value, choices);
        return [{ path, message }];
      }
      // A plain union: report the option that came closest (fewest problems).
      const branches = (issue.errors ?? []).filter((branch) => branch.length > 0);
      if (branches.length === 0) return [{ path, message: issue.message }];
      const best = branches.reduce((a, b) => (b.length < a.length ? b : a));
      return best.flatMap((inner) => issueToProblems(inner, path, rootSchema, rootData, options));
    }
    case 'too_small':
      return [{ path, message: sizeReason(issue.origin, 'small', Number(issue.minimum), issue.inclusive ?? true, input) }];
    case 'too_big':
      return [{ path, message: sizeReason(issue.origin, 'big', Number(issue.maximum), issue.inclusive ?? true, input) }];
    default:
      return [{ path, message: issue.message }];
  }
}

function expectedName(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'object') return 'a map';
  if (expected === 'array') return 'a list';
  return `a ${expected}`;
}

function sizeReason(origin: string, side: 'small' | 'big', limit: number, inclusive: boolean, input: unknown): string {
  if (origin === 'array' || origin === 'set') {
    if (side === 'small') return limit <= 1 ? 'must not be empty' : `must have at least ${limit} entries`;
    return `must have at most ${limit} entries`;
  }
  if (origin === 'string') {
    if (side === 'small') return limit <= 1 ? 'must not be empty' : `must be at least ${limit} characters long`;
    return `must be at most ${limit} characters long`;
  }
  const shown = typeof input === 'number' ? `${input} ` : '';
  if (side === 'small') return `${shown}is too small; must be ${inclusive ? 'at least' : 'greater than'} ${limit}`;
  return `${shown}is too big; must be ${inclusive ? 'at most' : 'less than'} ${limit}`;
}

/** Schema internals walked to find the keys an object at `path` accepts. */
/** Unwraps optional/default/pipe/lazy layers; picks the union option that fits the data. */
function resolveSchema(schema: z.ZodType, data: unknown): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (let guard = 0; current && guard < 50; guard++) {
    const def = defOf(current);
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'catch':
      case 'readonly':
      case 'nonoptional':
        current = def.innerType;
        break;
      case 'pipe':
        current = def.in && defOf(def.in).type === 'transform' ? def.out : def.in;
        break;
      case 'lazy':
        current = def.getter?.();
        break;
      case 'union':
        current = pickUnionOption(def, data);
        break;
      default:
        return current;
    }
  }
  return undefined;
}

function pickUnionOption(def: SchemaDef, data: unknown): z.ZodType | undefined {
  const options = def.options ?? [];
  const record = data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : undefined;
  if (def.discriminator !== undefined) {
    const wanted = record?.[def.discriminator];
    const chosen = options.find((option) => {
      const resolved = resolveSchema(option, data);
      const discriminatorSchema = resolved ? defOf(resolved).shape?.[def.discriminator as string] : undefined;
      return discriminatorSchema !== undefined && (defOf(discriminatorSchema).values ?? []).includes(wanted);
    });
    if (chosen !== undefined) return chosen;
    // Only unknown keys are looked up here, and zod reports those inside a discriminated union
    // only when it picked a variant: without a discriminator in the data, a preprocess default
    // (`source: { port: 9000 }` is otlp-http) filled in the first variant.
    if (wanted === undefined && options.length > 0) return options[0];
  }
  if (!record) return options[0];
  let best: z.ZodType | undefined;
  let bestOverlap = -1;
  for (const option of options) {
    const resolved = resolveSchema(option, data);
    const shape = resolved ? defOf(resolved).shape : undefined;
    if (!shape) continue;
    const overlap = Object.keys(record).filter((key) => key in shape).length;
    if (overlap > bestOverlap) {
      best = resolved;
      bestOverlap = overlap;
    }
  }
  return best;
}

function objectKeysAt(schema: z.ZodType, path: readonly PathSegment[], data: unknown): string[] {
  let current: z.ZodType | undefined = resolveSchema(schema, data);
  let value = data;
  for (const segment of path) {
    if (!current) return [];
    const def = defOf(current);
    value = value !== null && typeof value === 'object' ? (value as Record<PathSegment, unknown>)[segment] : undefined;
    if (def.type === 'object') current = def.shape?.[String(segment)];
    else if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else return [];
    current = current ? resolveSchema(current, value) : undefined;
  }
  const shape = current ? defOf(current).shape : undefined;
  return shape ? Object.keys(shape) : [];
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

function describeFsError(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES') return 'permission denied';
  return (err as Error).message ?? String(err);
}
