import type { PathSegment, Problem } from '../config/yaml-validation.js';

/**
 * A whole OpenTelemetry Collector config used as a policy file: the policies are the
 * settings of its `tail_sampling` processor (`processors.tail_sampling`, or
 * `processors."tail_sampling/<name>"`); receivers, exporters, pipelines and the other
 * processors are the Collector's business and are not read.
 */

/** Top-level keys that only a Collector config has (a policy file has none of them). */
const COLLECTOR_KEYS: readonly string[] = ['processors', 'receivers', 'service'];

const PROCESSOR_TYPE = 'tail_sampling';

/** Whether parsed YAML is a whole Collector config rather than a tail_sampling body. */
export function isCollectorConfig(data: unknown): boolean {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return false;
  return COLLECTOR_KEYS.some((key) => key in data);
}

/** A processor id of the tail_sampling type: `tail_sampling` or `tail_sampling/<name>`. */
export function isTailSamplingId(id: string): boolean {
  return id === PROCESSOR_TYPE || id.startsWith(`${PROCESSOR_TYPE}/`);
}

/**
 * `collector.yaml#tail_sampling/eu` → the file and the processor to take from it. Only a
 * suffix naming a tail_sampling processor counts, so a `#` elsewhere in a file name is kept.
 */
export function splitPolicyPath(path: string): { readonly file: string; readonly processor: string | undefined } {
  const hash = path.lastIndexOf('#');
  if (hash <= 0) return { file: path, processor: undefined };
  const processor = path.slice(hash + 1);
  return isTailSamplingId(processor) ? { file: path.slice(0, hash), processor } : { file: path, processor: undefined };
}

export type ProcessorChoice =
  | { readonly ok: true; readonly path: readonly PathSegment[] }
  | { readonly ok: false; readonly problem: Problem };

/**
 * The path of the tail_sampling processor to use: the one asked for, or the only one there
 * is. A config with several needs `FILE#tail_sampling/<name>`, and the problem says so.
 */
export function chooseTailSamplingProcessor(data: unknown, processor: string | undefined, fileName: string): ProcessorChoice {
  const processors = (data as Record<string, unknown>).processors;
  if (processors === null || typeof processors !== 'object' || Array.isArray(processors)) {
    const present = processors !== undefined;
    return {
      ok: false,
      problem: {
        path: present ? ['processors'] : [],
        at: present ? 'key' : 'value',
        message: 'this Collector config has no processors; tailsift takes its policies from the tail_sampling processor (processors.tail_sampling)',
      },
    };
  }
  const ids = Object.keys(processors).filter(isTailSamplingId);
  const listed = ids.join(', ');
  if (processor !== undefined) {
    if (ids.includes(processor)) return { ok: true, path: ['processors', processor] };
    const message =
      ids.length === 0
        ? `no processor "${processor}": this Collector config has no tail_sampling processor`
        : `no processor "${processor}" in this Collector config; its tail_sampling processors: ${listed}`;
    return { ok: false, problem: { path: ['processors'], at: 'key', message } };
  }
  if (ids.length === 1) return { ok: true, path: ['processors', ids[0]] };
  if (ids.length === 0) {
    return {
      ok: false,
      problem: { path: ['processors'], at: 'key', message: 'this Collector config has no tail_sampling processor; tailsift takes its policies from processors.tail_sampling' },
    };
  }
  return {
    ok: false,
    problem: {
      path: ['processors'],
      at: 'key',
      message: `this Collector config has several tail_sampling processors (${listed}); name the one to use, e.g. ${fileName}#${ids[0]}`,
    },
  };
}

/** The value at a path of plain data, or undefined. */
export function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return current;
}
