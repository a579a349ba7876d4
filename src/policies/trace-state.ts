import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { anySpan } from './trace-attributes.js';

/** W3C trace-context: at most 32 list-members. */
const MAX_MEMBERS = 32;

/**
 * `trace_state`: sampled when any span's W3C tracestate has `key` with one of `values`.
 *
 * As in the Collector: a tracestate that is not valid W3C (bad key or value, a duplicate key,
 * more than 32 members) matches nothing, however close the member looks; values that could
 * not appear in a tracestate (empty, or too long with the key) are ignored.
 */
export class TraceStateEvaluator implements PolicyEvaluator {
  private readonly key: string;
  private readonly values: ReadonlySet<string>;

  constructor(key: string, values: readonly string[]) {
    this.key = key;
    // A list-member is key=value in at most 256 characters.
    this.values = new Set(values.filter((value) => value !== '' && key.length + value.length < 256));
  }

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    return anySpan(trace, (span) => {
      if (span.traceState === '') return false;
      const members = parseTraceState(span.traceState);
      const value = members?.get(this.key);
      return value !== undefined && this.values.has(value);
    })
      ? 'sampled'
      : 'not_sampled';
  }
}

/**
 * Parses a W3C tracestate header into its members, or undefined when it is not valid.
 * Empty members (`a=1,,b=2`) are skipped; spaces and tabs around members are allowed.
 */
export function parseTraceState(header: string): Map<string, string> | undefined {
  const members = new Map<string, string>();
  for (const raw of header.split(',')) {
    if (raw === '') continue;
    const equals = raw.indexOf('=');
    if (equals < 0) return undefined;
    const key = raw.slice(0, equals).replace(/^[ \t]+/, '');
    const value = raw.slice(equals + 1).replace(/[ \t]+$/, '');
    if (!validKey(key) || !validValue(value) || members.has(key)) return undefined;
    members.set(key, value);
    if (members.size > MAX_MEMBERS) return undefined;
  }
  return members;
}

/** `simple-key` (lcalpha then up to 255 of lcalpha, digit, _ - * /) or `tenant@system`. */
function validKey(key: string): boolean {
  const at = key.indexOf('@');
  if (at < 0) return /^[a-z][a-z0-9_\-*/]{0,255}$/.test(key);
  const tenant = key.slice(0, at);
  const system = key.slice(at + 1);
  return /^[a-z0-9][a-z0-9_\-*/]{0,240}$/.test(tenant) && /^[a-z][a-z0-9_\-*/]{0,13}$/.test(system);
}

/** 1 to 256 printable ASCII characters except `,` and `=`, not ending in a space. */
function validValue(value: string): boolean {
  return /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/.test(value);
}
