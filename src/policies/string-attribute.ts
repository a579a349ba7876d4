import { RE2JS } from 're2js';
import type { AttrValue } from '../otlp/types.js';
import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { anyResourceOrSpan } from './trace-attributes.js';

/** The Collector's regex result cache size when `cache_max_size` is 0 or absent. */
export const DEFAULT_REGEX_CACHE_SIZE = 128;

export interface StringAttributeOptions {
  readonly key: string;
  readonly values: readonly string[];
  readonly enabledRegexMatching?: boolean;
  /** Regex results remembered per distinct attribute value (LRU); only with regex matching. */
  readonly cacheMaxSize?: number;
  readonly invertMatch?: boolean;
}

/**
 * `string_attribute`: a span or resource attribute `key` equal to one of `values`, or, with
 * `enabled_regex_matching`, matching one of them as an RE2 regex anywhere in the value
 * (unanchored, like Go's MatchString: write `^...$` for a whole-value match). Regexes run on
 * re2js, in time linear in the input, so no policy can stall the engine on a crafted value.
 *
 * As in the Collector: an empty string in `values` never matches; a non-string attribute
 * reads as "" (so only a regex that matches "" can match it, and only on a resource, since
 * span values must be non-empty); `invert_match` samples the trace when no resource and no
 * span matches, including when the key is absent everywhere.
 */
export class StringAttributeEvaluator implements PolicyEvaluator {
  private readonly key: string;
  private readonly invertMatch: boolean;
  private readonly matches: (value: string) => boolean;

  constructor(options: StringAttributeOptions) {
    this.key = options.key;
    this.invertMatch = options.invertMatch ?? false;
    if (options.enabledRegexMatching) {
      const patterns = options.values.map((value) => RE2JS.compile(value));
      const cache = new LruCache<string, boolean>(options.cacheMaxSize && options.cacheMaxSize > 0 ? options.cacheMaxSize : DEFAULT_REGEX_CACHE_SIZE);
      this.matches = (value) => {
        const known = cache.get(value);
        if (known !== undefined) return known;
        const result = patterns.some((pattern) => pattern.test(value));
        cache.set(value, result);
        return result;
      };
    } else {
      const exact = new Set(options.values.filter((value) => value !== ''));
      this.matches = (value) => exact.has(value);
    }
  }

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    const matched = anyResourceOrSpan(
      trace,
      this.key,
      (value) => this.matches(asString(value)),
      (value) => {
        const text = asString(value);
        return text.length > 0 && this.matches(text);
      },
    );
    return matched !== this.invertMatch ? 'sampled' : 'not_sampled';
  }
}

/** pcommon.Value.Str(): the string, or "" for any other type. */
function asString(value: AttrValue): string {
  return typeof value === 'string' ? value : '';
}

/** Least-recently-used map on insertion order; small and per policy. */
class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }
}
