import type { Prng } from './prng.js';
import type { LayoutHook, PlannedException, PlannedSpan } from './trace-plan.js';
import { GenerateUsageError } from './usage-error.js';

/**
 * Fault injection: `--fault SERVICE:latency=x5@START-END[:share=0.3]` makes a share of the
 * service's spans that start inside the window N times slower (their own work; ancestors
 * stretch to contain them), `--fault SERVICE:errors=0.2@START-END` makes that share of them
 * end in ERROR with an exception event. Times are seconds from the start of the run.
 *
 * Only the named service's spans change: callers keep their status, so the service named in
 * the fault is the one a detector should blame.
 */
export type FaultEffect =
  | { readonly kind: 'latency'; readonly factor: number }
  | { readonly kind: 'errors' };

export interface FaultSpec {
  /** The text the fault was given as; the manifest reports it under `faults`. */
  readonly label: string;
  readonly service: string;
  readonly effect: FaultEffect;
  /** Window start and end, seconds from the start of the run; a span belongs by its start time. */
  readonly startSeconds: number;
  readonly endSeconds: number;
  /** Share of the service's spans in the window that the fault touches, in (0, 1]. */
  readonly share: number;
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NUMBER = /^\d+(?:\.\d+)?$/;
const SYNTAX = 'expected SERVICE:latency=xN@START-END[:share=P] or SERVICE:errors=P@START-END';

/** Parses one `--fault` value; a GenerateUsageError names the part that is wrong. */
export function parseFaultSpec(text: string): FaultSpec {
  const label = text.trim();
  const bad = (reason: string): never => {
    throw new GenerateUsageError(`--fault ${JSON.stringify(label)}: ${reason}`);
  };
  const colon = label.indexOf(':');
  if (colon < 0) bad(SYNTAX);
  const service = label.slice(0, colon);
  if (!SERVICE_NAME.test(service)) bad(`service ${JSON.stringify(service)} is not a service name`);

  const [effectAndWindow, ...options] = label.slice(colon + 1).split(':');
  const at = effectAndWindow.indexOf('@');
  if (at < 0) bad(`missing the @START-END window (seconds from the start of the run)`);
  const effectText = effectAndWindow.slice(0, at);
  const windowText = effectAndWindow.slice(at + 1);

  const window = /^([^-]+)-([^-]+)$/.exec(windowText);
  if (!window) bad(`window ${JSON.stringify(windowText)} must be START-END in seconds, e.g. 10-30`);
  const [, startText, endText] = window as RegExpExecArray;
  if (!NUMBER.test(startText)) bad(`window start ${JSON.stringify(startText)} is not a number of seconds`);
  if (!NUMBER.test(endText)) bad(`window end ${JSON.stringify(endText)} is not a number of seconds`);
  const startSeconds = Number(startText);
  const endSeconds = Number(endText);
  if (endSeconds <= startSeconds) bad(`window end (${endText}) must be after its start (${startText})`);

  const eq = effectText.indexOf('=');
  const effectName = eq < 0 ? effectText : effectText.slice(0, eq);
  const effectValue = eq < 0 ? '' : effectText.slice(eq + 1);
  let effect: FaultEffect;
  let share: number;
  if (effectName === 'latency') {
    const factor = /^x(\d+(?:\.\d+)?)$/.exec(effectValue);
    if (!factor) bad(`latency ${JSON.stringify(effectValue)} must be a multiplier like x5`);
    const value = Number((factor as RegExpExecArray)[1]);
    if (!(value > 0)) bad(`latency multiplier must be above 0, got ${effectValue}`);
    effect = { kind: 'latency', factor: value };
    share = 1;
  } else if (effectName === 'errors') {
    share = parseShare(effectValue, 'errors', bad);
    effect = { kind: 'errors' };
  } else {
    return bad(`effect ${JSON.stringify(effectText)} must be latency=xN or errors=P`);
  }

  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? '' : option.slice(eq + 1);
    if (key !== 'share') bad(`unknown option ${JSON.stringify(option)}; only share=P is accepted`);
    if (effect.kind === 'errors') bad(`share= does not apply to errors=P, which is already the share`);
    share = parseShare(value, 'share', bad);
  }
  return { label, service, effect, startSeconds, endSeconds, share };
}

function parseShare(text: string, what: string, bad: (reason: string) => never): number {
  if (!NUMBER.test(text)) bad(`${what} ${JSON.stringify(text)} must be a share between 0 and 1, e.g. 0.2`);
  const value = Number(text);
  if (!(value > 0 && value <= 1)) bad(`${what} ${text} must be above 0 and at most 1`);
  return value;
}

/** Errors a failing dependency typically surfaces as. */
const INJECTED_EXCEPTIONS: readonly PlannedException[] = [
  { type: 'Error', message: 'upstream connect error or disconnect/reset before headers' },
  { type: 'TimeoutError', message: 'operation timed out after 5000ms' },
  { type: 'ConnectionResetError', message: 'read ECONNRESET' },
  { type: 'ResourceExhaustedError', message: 'too many concurrent requests' },
];

/**
 * Applies faults while a trace is laid out. It draws from its own random stream, so a run
 * with faults has the same traces (ids, shapes, base latencies) as one without; only the
 * spans the faults touch differ.
 */
export class FaultInjector implements LayoutHook {
  private readonly windows: readonly { spec: FaultSpec; startNs: number; endNs: number }[];

  constructor(
    faults: readonly FaultSpec[],
    private readonly rng: Prng,
  ) {
    this.windows = faults.map((spec) => ({ spec, startNs: spec.startSeconds * 1e9, endNs: spec.endSeconds * 1e9 }));
  }

  enter(span: PlannedSpan, startNs: number): number {
    let factor = 1;
    for (const { spec, startNs: from, endNs: to } of this.windows) {
      if (spec.service !== span.service || startNs < from || startNs >= to) continue;
      if (spec.share < 1 && !this.rng.chance(spec.share)) continue;
      span.faults.push(spec.label);
      if (spec.effect.kind === 'latency') {
        factor *= spec.effect.factor;
      } else {
        const exception = this.rng.pick(INJECTED_EXCEPTIONS);
        span.fail(exception.message, exception);
      }
    }
    return factor;
  }
}
