import { SpanKind } from '@opentelemetry/api';
import type { Prng } from './prng.js';
import { SCOPES, type ServiceDefinition } from './service-model.js';
import { PlannedSpan, type LayoutHook, type PlannedException } from './trace-plan.js';
import { GenerateUsageError } from './usage-error.js';

/**
 * Fault injection. Times are seconds from the start of the run; a span belongs to a window by
 * its start time.
 *
 * - `SERVICE:latency=xN@START-END[:share=P]`: in a share P of the traces that reach the
 *   service inside the window, every span of the service does its own work N times slower
 *   (ancestors stretch to contain them). The share is drawn per trace, as when some requests
 *   land on a slow replica, so every trace the manifest lists under the fault is slower.
 * - `SERVICE:errors=P@START-END`: that share of the service's spans end in ERROR with an
 *   exception event.
 * - `SERVICE:dependency=NEWSERVICE[/OPERATION]@START-END[:latency=DURATION][:share=P]`: in a
 *   share P of the traces reaching the service inside the window (default all), the service's
 *   first span calls a service the scenario does not have, `POST /OPERATION` (default
 *   `/call`), which takes about DURATION (default 300ms; `ms` or `s`) before the span goes on.
 *
 * Only the named service's spans change (and, for a dependency, the new service's): callers
 * keep their status, so the service named in the fault is the one a detector should blame.
 */
export type FaultEffect =
  | { readonly kind: 'latency'; readonly factor: number }
  | { readonly kind: 'errors' }
  | { readonly kind: 'dependency'; readonly service: string; readonly operation: string; readonly latencyMs: number };

export interface FaultSpec {
  /** The text the fault was given as; the manifest reports it under `faults`. */
  readonly label: string;
  readonly service: string;
  readonly effect: FaultEffect;
  /** Window start and end, seconds from the start of the run; a span belongs by its start time. */
  readonly startSeconds: number;
  readonly endSeconds: number;
  /** Share of the traces (errors: of the spans) in the window that the fault touches, in (0, 1]. */
  readonly share: number;
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const OPERATION_NAME = /^[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/;
const NUMBER = /^\d+(?:\.\d+)?$/;
const SYNTAX =
  'expected SERVICE:latency=xN@START-END[:share=P], SERVICE:errors=P@START-END or SERVICE:dependency=NEWSERVICE[/OPERATION]@START-END[:latency=DURATION][:share=P]';
const DEFAULT_DEPENDENCY_OPERATION = 'call';
const DEFAULT_DEPENDENCY_LATENCY_MS = 300;

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
  } else if (effectName === 'dependency') {
    const slash = effectValue.indexOf('/');
    const newService = slash < 0 ? effectValue : effectValue.slice(0, slash);
    const operation = slash < 0 ? DEFAULT_DEPENDENCY_OPERATION : effectValue.slice(slash + 1);
    if (!SERVICE_NAME.test(newService)) bad(`dependency ${JSON.stringify(newService)} is not a service name`);
    if (newService === service) bad(`dependency ${newService} must be another service than the one calling it`);
    if (!OPERATION_NAME.test(operation)) bad(`dependency operation ${JSON.stringify(operation)} must be a path like check or v1/score`);
    effect = { kind: 'dependency', service: newService, operation, latencyMs: DEFAULT_DEPENDENCY_LATENCY_MS };
    share = 1;
  } else {
    return bad(`effect ${JSON.stringify(effectText)} must be latency=xN, errors=P or dependency=NEWSERVICE[/OPERATION]`);
  }

  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? '' : option.slice(eq + 1);
    if (key === 'share') {
      if (effect.kind === 'errors') bad(`share= does not apply to errors=P, which is already the share`);
      share = parseShare(value, 'share', bad);
    } else if (key === 'latency' && effect.kind === 'dependency') {
      effect = { ...effect, latencyMs: parseDurationMs(value, bad) };
    } else {
      bad(`unknown option ${JSON.stringify(option)}; ${effect.kind === 'dependency' ? 'latency=DURATION and share=P are' : 'only share=P is'} accepted`);
    }
  }
  return { label, service, effect, startSeconds, endSeconds, share };
}

function parseShare(text: string, what: string, bad: (reason: string) => never): number {
  if (!NUMBER.test(text)) bad(`${what} ${JSON.stringify(text)} must be a share between 0 and 1, e.g. 0.2`);
  const value = Number(text);
  if (!(value > 0 && value <= 1)) bad(`${what} ${text} must be above 0 and at most 1`);
  return value;
}

function parseDurationMs(text: string, bad: (reason: string) => never): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text);
  if (!match) bad(`latency ${JSON.stringify(text)} must be a duration like 300ms or 1.5s`);
  const [, amount, unit] = match as RegExpExecArray;
  const ms = Number(amount) * (unit === 's' ? 1000 : 1);
  if (!(ms > 0 && ms <= 600_000)) bad(`latency ${text} must be above 0 and at most 10 minutes`);
  return ms;
}

/** The services dependency faults add, so the run can give them a Resource and a tracer. */
export function addedServices(faults: readonly FaultSpec[]): ServiceDefinition[] {
  const out = new Map<string, ServiceDefinition>();
  for (const { effect } of faults) {
    if (effect.kind === 'dependency' && !out.has(effect.service)) out.set(effect.service, { name: effect.service, version: '1.0.0', port: 8080 });
  }
  return [...out.values()];
}

/** Errors a failing dependency typically surfaces as. */
const INJECTED_EXCEPTIONS: readonly PlannedException[] = [
  { type: 'Error', message: 'upstream connect error or disconnect/reset before headers' },
  { type: 'TimeoutError', message: 'operation timed out after 5000ms' },
  { type: 'ConnectionResetError', message: 'read ECONNRESET' },
  { type: 'ResourceExhaustedError', message: 'too many concurrent requests' },
];

/** How a call to a new dependency's server varies around the fault's latency (log-normal sigma). */
const DEPENDENCY_SIGMA = 0.3;

/**
 * Applies faults while a trace is laid out. It draws from its own random stream, so a run
 * with faults has the same traces (ids, shapes, base latencies) as one without; only the
 * spans the faults touch differ, and spans a dependency fault adds take their ids from a
 * stream of their own (see PlannedSpan.injected).
 */
export class FaultInjector implements LayoutHook {
  private readonly windows: readonly { spec: FaultSpec; startNs: number; endNs: number }[];
  /** Per-trace draws of faults whose share is drawn per trace: true when the trace is hit. */
  private readonly drawn = new Map<FaultSpec, boolean>();

  constructor(
    faults: readonly FaultSpec[],
    private readonly rng: Prng,
  ) {
    this.windows = faults.map((spec) => ({ spec, startNs: spec.startSeconds * 1e9, endNs: spec.endSeconds * 1e9 }));
  }

  beginTrace(): void {
    this.drawn.clear();
  }

  enter(span: PlannedSpan, startNs: number): number {
    let factor = 1;
    for (const { spec, startNs: from, endNs: to } of this.windows) {
      if (spec.service !== span.service || startNs < from || startNs >= to) continue;
      const { effect } = spec;
      if (effect.kind === 'errors') {
        if (spec.share < 1 && !this.rng.chance(spec.share)) continue;
        span.faults.push(spec.label);
        const exception = this.rng.pick(INJECTED_EXCEPTIONS);
        span.fail(exception.message, exception);
        continue;
      }
      const first = !this.drawn.has(spec);
      if (first) this.drawn.set(spec, spec.share >= 1 || this.rng.chance(spec.share));
      if (this.drawn.get(spec) !== true) continue;
      if (effect.kind === 'latency') {
        span.faults.push(spec.label);
        factor *= effect.factor;
      } else if (first) {
        // Only the service's first span of the trace makes the new call: one call per request.
        span.faults.push(spec.label);
        span.steps.unshift({ type: 'call', span: this.dependencyCall(spec, effect) });
      }
    }
    return factor;
  }

  /** The calling service's client span and the new service's server span under it. */
  private dependencyCall(spec: FaultSpec, effect: Extract<FaultEffect, { kind: 'dependency' }>): PlannedSpan {
    const route = `/${effect.operation}`;
    const server = new PlannedSpan(effect.service, SCOPES.http, `POST ${route}`, SpanKind.SERVER, {
      'http.request.method': 'POST',
      'http.route': route,
      'url.path': route,
      'url.scheme': 'http',
      'server.address': effect.service,
      'server.port': 8080,
      'network.protocol.version': '1.1',
    });
    server.outcome = { key: 'http.response.status_code', ok: 200, failed: 500 };
    server.work(effect.latencyMs * Math.exp(DEPENDENCY_SIGMA * this.rng.normal()) * 1e6);
    server.delayNs = Math.round(this.rng.between(0.15, 0.4) * 1e6);
    const client = new PlannedSpan(spec.service, SCOPES.http, 'POST', SpanKind.CLIENT, {
      'http.request.method': 'POST',
      'server.address': effect.service,
      'server.port': 8080,
      'url.full': `http://${effect.service}:8080${route}`,
      'network.protocol.version': '1.1',
    });
    client.outcome = { key: 'http.response.status_code', ok: 200, failed: 502 };
    client.call(server).work(this.rng.between(0.15, 0.4) * 1e6);
    for (const span of [client, server]) {
      span.injected = true;
      span.faults.push(spec.label);
    }
    return client;
  }
}
