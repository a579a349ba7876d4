import type { WindowFigures } from './operation-baseline.js';

/** A duration as people read it in a reason: 0.42ms, 410ms, 2.4s, 3.5m. */
export function formatDuration(ms: number): string {
  if (ms < 10) return `${trim(ms.toFixed(2))}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${trim((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))}s`;
  return `${trim((ms / 60_000).toFixed(1))}m`;
}

/** A share as a percentage with enough digits to tell rare from never: 21%, 0.4%, 0.02%. */
export function formatRate(rate: number): string {
  const pct = rate * 100;
  if (pct === 0) return '0%';
  if (pct >= 10) return `${Math.round(pct)}%`;
  if (pct >= 1) return `${trim(pct.toFixed(1))}%`;
  return `${trim(pct.toPrecision(1))}%`;
}

function trim(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** `llm-inference "chat gpt-4o"`: how reasons and alerts name an operation. */
export function operationLabel(service: string, operation: string): string {
  return `${service || '(unknown service)'} ${JSON.stringify(operation)}`;
}

/** `24 ms/token`: a duration per unit of work. */
export function formatPerUnit(ms: number, unit: string): string {
  return `${formatDuration(ms).replace(/(ms|s|m)$/, ' $1')}/${unit}`;
}

/**
 * How reasons name a work attribute's unit: its last dotted segment in words, e.g.
 * `gen_ai.usage.output_tokens` → `output tokens`, one `token`.
 */
export function workUnit(attribute: string): { plural: string; singular: string } {
  const plural = (attribute.split('.').pop() ?? attribute).replace(/_/g, ' ').trim() || attribute;
  const words = plural.split(' ');
  const last = words[words.length - 1];
  const singular = last.length > 1 && last.endsWith('s') ? last.slice(0, -1) : last;
  return { plural, singular };
}

export function latencyFigures(figures: WindowFigures): string {
  return `p50 ${formatDuration(figures.p50Ms)} p99 ${formatDuration(figures.p99Ms)}`;
}

export function ago(ms: number): string {
  return formatDuration(Math.max(0, ms));
}
