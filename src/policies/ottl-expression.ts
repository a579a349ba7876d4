import { RE2JS } from 're2js';
import type { AttrValue, SpanEventView, SpanView } from '../otlp/types.js';

/**
 * A safe subset of OTTL boolean conditions, as the Collector's `ottl_condition` policy takes
 * them: parsed once into an expression tree and evaluated by walking it. Nothing is ever run
 * as code, and regexes are RE2 (linear time).
 *
 * Grammar (keywords in lower case, functions capitalised, as in OTTL):
 *   condition := and ('or' and)*
 *   and       := not ('and' not)*
 *   not       := 'not' not | comparison
 *   comparison:= operand (('==' | '!=' | '<' | '<=' | '>' | '>=') operand)?
 *   operand   := string | number | 'true' | 'false' | 'nil' | ENUM | path | Function(args) | '(' condition ')'
 *   path      := name ('.' name)* ('[' string | integer ']')*
 *
 * Span paths: name, kind, status.code, attributes[..], resource.attributes[..], trace_id.string,
 * span_id.string, parent_span_id.string, trace_state, trace_state[".."], flags, each also with
 * a `span.` prefix. Span event paths: name, attributes[..] (also `spanevent.`-prefixed), and
 * span.name, span.kind, span.status.code, span.attributes[..], resource.attributes[..].
 * Functions: IsMatch(target, "regex"), IsString, IsInt, IsDouble, IsBool, IsMap, IsList.
 * Enums: STATUS_CODE_UNSET/OK/ERROR, SPAN_KIND_UNSPECIFIED/INTERNAL/SERVER/CLIENT/PRODUCER/CONSUMER.
 *
 * Comparisons follow OTTL: values of different types are never equal (`!=` is true), ints and
 * doubles compare as numbers, strings order by code unit, `nil` equals only a missing value.
 * Differs on purpose: IsInt/IsDouble judge by value (a whole-number double counts as an int),
 * since our attribute view does not keep int and double apart.
 */

export type OttlContext = 'span' | 'spanevent';

export type OttlValue = AttrValue | null;

export type OttlNode =
  | { readonly kind: 'literal'; readonly value: OttlValue }
  | { readonly kind: 'path'; readonly text: string; readonly get: (target: OttlTarget) => OttlValue }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly OttlNode[]; readonly regex?: RE2JS }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: OttlNode; readonly right: OttlNode }
  | { readonly kind: 'and' | 'or'; readonly parts: readonly OttlNode[] }
  | { readonly kind: 'not'; readonly operand: OttlNode };

type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** What a condition looks at: a span, or one of its events with the span around it. */
export interface OttlTarget {
  readonly span: SpanView;
  readonly event?: SpanEventView;
}

export class OttlSyntaxError extends Error {
  constructor(
    message: string,
    /** 1-based column in the condition text. */
    readonly column: number,
  ) {
    super(message);
  }
}

const ENUMS: Readonly<Record<string, number>> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};

const FUNCTIONS: Readonly<Record<string, number>> = { IsMatch: 2, IsString: 1, IsInt: 1, IsDouble: 1, IsBool: 1, IsMap: 1, IsList: 1 };

type Token =
  | { readonly type: 'string'; readonly value: string; readonly at: number }
  | { readonly type: 'number'; readonly value: number; readonly at: number }
  | { readonly type: 'ident'; readonly value: string; readonly at: number }
  | { readonly type: 'op'; readonly value: string; readonly at: number }
  | { readonly type: 'end'; readonly value: ''; readonly at: number };

type IdentToken = Extract<Token, { type: 'ident' }>;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '"') {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new OttlSyntaxError('unterminated string', start + 1);
        const d = text[i];
        if (d === '"') break;
        if (d === '\\') {
          const e = text[i + 1];
          const escapes: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r' };
          if (e === undefined || escapes[e] === undefined) throw new OttlSyntaxError(`unknown escape "\\${e ?? ''}" in string`, i + 1);
          value += escapes[e];
          i += 2;
        } else {
          value += d;
          i++;
        }
      }
      i++;
      tokens.push({ type: 'string', value, at: start + 1 });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9.]/.test(text[i + 1] ?? ''))) {
      const match = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(text.slice(i));
      if (!match) throw new OttlSyntaxError('invalid number', i + 1);
      tokens.push({ type: 'number', value: Number(match[0]), at: i + 1 });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i)) as RegExpExecArray;
      tokens.push({ type: 'ident', value: match[0], at: i + 1 });
      i += match[0].length;
    } else {
      const two = text.slice(i, i + 2);
      if (['==', '!=', '<=', '>='].includes(two)) {
        tokens.push({ type: 'op', value: two, at: i + 1 });
        i += 2;
      } else if ('<>()[],.'.includes(c)) {
        tokens.push({ type: 'op', value: c, at: i + 1 });
        i++;
      } else {
        throw new OttlSyntaxError(`unexpected character "${c}"`, i + 1);
      }
    }
  }
  tokens.push({ type: 'end', value: '', at: text.length + 1 });
  return tokens;
}

/** Parses one condition for the span or span event context; throws OttlSyntaxError. */
export function parseOttlCondition(text: string, context: OttlContext): OttlNode {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token => tokens[pos];
  const next = (): Token => tokens[pos++];
  const isOp = (value: string): boolean => peek().type === 'op' && peek().value === value;
  const isWord = (value: string): boolean => peek().type === 'ident' && peek().value === value;
  const expectOp = (value: string): void => {
    if (!isOp(value)) throw new OttlSyntaxError(`expected "${value}", found ${describe(peek())}`, peek().at);
    pos++;
  };

  const parseOr = (): OttlNode => {
    const parts = [parseAnd()];
    while (isWord('or')) {
      pos++;
      parts.push(parseAnd());
    }
    return parts.length === 1 ? parts[0] : { kind: 'or', parts };
  };
  const parseAnd = (): OttlNode => {
    const parts = [parseNot()];
    while (isWord('and')) {
      pos++;
      parts.push(parseNot());
    }
    return parts.length === 1 ? parts[0] : { kind: 'and', parts };
  };
  const parseNot = (): OttlNode => {
    if (isWord('not')) {
      pos++;
      return { kind: 'not', operand: parseNot() };
    }
    return parseComparison();
  };
  const parseComparison = (): OttlNode => {
    const left = parseOperand();
    const token = peek();
    if (token.type === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(token.value)) {
      pos++;
      return { kind: 'compare', op: token.value as CompareOp, left, right: parseOperand() };
    }
    return left;
  };
  const parseOperand = (): OttlNode => {
    const token = next();
    if (token.type === 'string' || token.type === 'number') return { kind: 'literal', value: token.value };
    if (token.type === 'op' && token.value === '(') {
      const inner = parseOr();
      expectOp(')');
      return inner;
    }
    if (token.type !== 'ident') throw new OttlSyntaxError(`expected a value, found ${describe(token)}`, token.at);
    if (token.value === 'true' || token.value === 'false') return { kind: 'literal', value: token.value === 'true' };
    if (token.value === 'nil') return { kind: 'literal', value: null };
    if (['and', 'or', 'not'].includes(token.value)) throw new OttlSyntaxError(`expected a value, found "${token.value}"`, token.at);
    if (isOp('(')) return parseCall(token);
    if (/^[A-Z][A-Z0-9_]*$/.test(token.value)) {
      const value = ENUMS[token.value];
      if (value === undefined) throw new OttlSyntaxError(`unknown enum ${token.value}; known: ${Object.keys(ENUMS).join(', ')}`, token.at);
      return { kind: 'literal', value };
    }
    return parsePath(token);
  };
  const parseCall = (name: IdentToken): OttlNode => {
    const arity = FUNCTIONS[name.value];
    if (arity === undefined) {
      throw new OttlSyntaxError(`function ${name.value} is not in tailsift's OTTL subset; available: ${Object.keys(FUNCTIONS).join(', ')}`, name.at);
    }
    expectOp('(');
    const args: OttlNode[] = [];
    if (!isOp(')')) {
      args.push(parseOr());
      while (isOp(',')) {
        pos++;
        args.push(parseOr());
      }
    }
    expectOp(')');
    if (args.length !== arity) throw new OttlSyntaxError(`${name.value} takes ${arity} argument${arity === 1 ? '' : 's'}, got ${args.length}`, name.at);
    if (name.value === 'IsMatch') {
      const pattern = args[1];
      if (pattern.kind !== 'literal' || typeof pattern.value !== 'string') throw new OttlSyntaxError('IsMatch needs its pattern as a string literal', name.at);
      let regex: RE2JS;
      try {
        regex = RE2JS.compile(pattern.value);
      } catch (err) {
        throw new OttlSyntaxError(`invalid regex ${JSON.stringify(pattern.value)}: ${(err as { getDescription?: () => string }).getDescription?.() ?? String(err)}`, name.at);
      }
      return { kind: 'call', name: name.value, args, regex };
    }
    return { kind: 'call', name: name.value, args };
  };
  const parsePath = (first: IdentToken): OttlNode => {
    const segments: string[] = [first.value];
    while (isOp('.')) {
      pos++;
      const part = next();
      if (part.type !== 'ident') throw new OttlSyntaxError(`expected a field name after ".", found ${describe(part)}`, part.at);
      segments.push(String(part.value));
    }
    const keys: (string | number)[] = [];
    while (isOp('[')) {
      pos++;
      const key = next();
      if (key.type === 'string') keys.push(key.value);
      else if (key.type === 'number' && Number.isInteger(key.value)) keys.push(key.value);
      else throw new OttlSyntaxError(`expected a string key or list index in [ ], found ${describe(key)}`, key.at);
      expectOp(']');
    }
    const text = segments.join('.');
    const get = resolvePath(segments, keys.length > 0, context, first.at);
    const getter = keys.length === 0 ? (target: OttlTarget) => get(target) as OttlValue : (target: OttlTarget) => index(get(target), keys);
    return { kind: 'path', text: `${text}${keys.map((k) => `[${JSON.stringify(k)}]`).join('')}`, get: getter };
  };

  const tree = parseOr();
  if (peek().type !== 'end') throw new OttlSyntaxError(`unexpected ${describe(peek())}`, peek().at);
  return tree;
}

function describe(token: Token): string {
  if (token.type === 'end') return 'the end of the condition';
  if (token.type === 'string') return `string ${JSON.stringify(token.value)}`;
  return `"${token.value}"`;
}

/** A field as read: maps (attributes) are only ever read through an index. */
type Getter = (target: OttlTarget) => OttlValue | ReadonlyMap<string, AttrValue>;

/** The field a path names, for the given context; unknown paths fail at parse time. */
function resolvePath(segments: readonly string[], indexed: boolean, context: OttlContext, at: number): Getter {
  const path = segments.join('.');
  const spanFields = (prefix: string): Record<string, Getter> => ({
    [`${prefix}name`]: (t) => t.span.name,
    [`${prefix}kind`]: (t) => t.span.kind,
    [`${prefix}status.code`]: (t) => t.span.statusCode,
    [`${prefix}attributes`]: (t) => t.span.attributes(),
    [`${prefix}trace_id.string`]: (t) => t.span.traceId,
    [`${prefix}span_id.string`]: (t) => t.span.spanId,
    [`${prefix}parent_span_id.string`]: (t) => t.span.parentSpanId,
    [`${prefix}trace_state`]: (t) => (indexed ? traceStateMap(t.span.traceState) : t.span.traceState),
    [`${prefix}flags`]: (t) => t.span.flags,
  });
  const fields: Record<string, Getter> =
    context === 'span'
      ? { ...spanFields(''), ...spanFields('span.') }
      : {
          name: (t) => t.event?.name ?? null,
          attributes: (t) => t.event?.attributes ?? null,
          'spanevent.name': (t) => t.event?.name ?? null,
          'spanevent.attributes': (t) => t.event?.attributes ?? null,
          ...spanFields('span.'),
        };
  fields['resource.attributes'] = (t) => t.span.resourceAttributes();
  const getter = fields[path];
  if (getter === undefined) {
    throw new OttlSyntaxError(`path ${path} is not in tailsift's OTTL subset for the ${context} context; available: ${Object.keys(fields).join(', ')}`, at);
  }
  if (path.endsWith('attributes') && !indexed) throw new OttlSyntaxError(`${path} needs a key, e.g. ${path}["http.route"]`, at);
  return getter;
}

function traceStateMap(header: string): OttlValue {
  const out: Record<string, AttrValue> = {};
  for (const member of header.split(',')) {
    const equals = member.indexOf('=');
    if (equals > 0) out[member.slice(0, equals).trim()] = member.slice(equals + 1).trim();
  }
  return out;
}

function index(value: OttlValue | ReadonlyMap<string, AttrValue>, keys: readonly (string | number)[]): OttlValue {
  let current: unknown = value;
  for (const key of keys) {
    if (current instanceof Map) current = current.get(key);
    else if (Array.isArray(current) && typeof key === 'number') current = current[key];
    else if (current !== null && typeof current === 'object' && !(current instanceof Uint8Array) && typeof key === 'string') {
      current = (current as Record<string, unknown>)[key];
    } else return null;
    if (current === undefined) return null;
  }
  return current as OttlValue;
}

/** Evaluates a parsed condition; a non-boolean result counts as false, as OTTL treats it. */
export function evaluateOttl(node: OttlNode, target: OttlTarget): boolean {
  return valueOf(node, target) === true;
}

function valueOf(node: OttlNode, target: OttlTarget): OttlValue {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'path':
      return node.get(target);
    case 'and':
      return node.parts.every((part) => valueOf(part, target) === true);
    case 'or':
      return node.parts.some((part) => valueOf(part, target) === true);
    case 'not':
      return valueOf(node.operand, target) !== true;
    case 'compare':
      return compare(node.op, valueOf(node.left, target), valueOf(node.right, target));
    case 'call':
      return call(node, target);
  }
}

function call(node: Extract<OttlNode, { kind: 'call' }>, target: OttlTarget): boolean {
  const value = valueOf(node.args[0], target);
  switch (node.name) {
    case 'IsMatch': {
      if (value === null || value === undefined) return false;
      const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
      return text !== undefined && (node.regex as RE2JS).test(text);
    }
    case 'IsString':
      return typeof value === 'string';
    case 'IsInt':
      return typeof value === 'number' && Number.isInteger(value);
    case 'IsDouble':
      return typeof value === 'number' && !Number.isInteger(value);
    case 'IsBool':
      return typeof value === 'boolean';
    case 'IsMap':
      return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array);
    case 'IsList':
      return Array.isArray(value);
    default:
      return false;
  }
}

function compare(op: CompareOp, left: OttlValue, right: OttlValue): boolean {
  if (op === '==' || op === '!=') {
    const equal = equals(left, right);
    return op === '==' ? equal : !equal;
  }
  const bothNumbers = typeof left === 'number' && typeof right === 'number';
  const bothStrings = typeof left === 'string' && typeof right === 'string';
  if (!bothNumbers && !bothStrings) return false;
  const l = left as number | string;
  const r = right as number | string;
  if (op === '<') return l < r;
  if (op === '<=') return l <= r;
  if (op === '>') return l > r;
  return l >= r;
}

function equals(left: OttlValue, right: OttlValue): boolean {
  if (left === null || right === null) return left === right;
  if (typeof left !== typeof right) return false;
  if (typeof left !== 'object') return left === right;
  return JSON.stringify(normalise(left)) === JSON.stringify(normalise(right));
}

function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (value instanceof Map) return Object.fromEntries([...value.entries()].map(([k, v]) => [k, normalise(v)]));
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  return value;
}
