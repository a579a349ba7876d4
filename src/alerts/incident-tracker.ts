import type { WindowFigures } from '../baselines/operation-baseline.js';
import type { Departure, DepartureKind } from '../baselines/trace-anomaly.js';

/**
 * One incident subject's state, as JSON so it can live in Redis and survive a change of
 * leader: `pending` while a departure has not lasted `sustain` yet, `firing` once notified.
 */
export interface IncidentState {
  readonly key: string;
  readonly service: string;
  readonly operation: string;
  readonly kind: DepartureKind;
  readonly status: 'pending' | 'firing';
  /** When the departure was first seen (the incident's start). */
  readonly sinceMs: number;
  /** The last evaluation that saw it departing. */
  readonly lastDepartedMs: number;
  /** The last notification sent; undefined while pending. */
  readonly notifiedMs: number | undefined;
  readonly observed: WindowFigures;
  readonly baseline: WindowFigures;
  readonly z: number;
  readonly summary: string;
}

export interface IncidentTiming {
  readonly sustainMs: number;
  readonly resolveAfterMs: number;
  readonly renotifyMs: number;
}

export type IncidentEvent =
  | { readonly type: 'fire'; readonly state: IncidentState; readonly renotification: boolean }
  | { readonly type: 'resolve'; readonly state: IncidentState; readonly atMs: number };

export interface IncidentStep {
  /** States written anew (created or changed). */
  readonly changed: readonly IncidentState[];
  /** Keys whose state is gone (resolved, or a pending departure that did not last). */
  readonly removed: readonly string[];
  readonly events: readonly IncidentEvent[];
}

/**
 * One evaluation of the incident lifecycle, pure: given the states and the departures seen
 * now, what changes and what to notify.
 *
 * - A departure not seen before becomes `pending`; one seen without a break for `sustain`
 *   fires (one notification) and becomes `firing`.
 * - A pending departure that is not seen at an evaluation is forgotten: it did not last.
 * - A firing incident is notified again every `renotify` while it departs, and resolves (one
 *   notification) once no departure was seen for `resolveAfter`.
 */
export function stepIncidents(states: ReadonlyMap<string, IncidentState>, departures: readonly Departure[], nowMs: number, timing: IncidentTiming): IncidentStep {
  const changed: IncidentState[] = [];
  const removed: string[] = [];
  const events: IncidentEvent[] = [];
  const seen = new Set<string>();
  for (const d of departures) {
    seen.add(d.key);
    const before = states.get(d.key);
    const latest = { observed: d.observed, baseline: d.baseline, z: d.z, summary: d.summary, lastDepartedMs: nowMs };
    if (before === undefined) {
      const state: IncidentState = { key: d.key, service: d.service, operation: d.operation, kind: d.kind, status: 'pending', sinceMs: nowMs, notifiedMs: undefined, ...latest };
      changed.push(state);
      // With no sustain asked for, the first sight fires at once.
      if (timing.sustainMs <= 0) fire(state, false);
      continue;
    }
    const state: IncidentState = { ...before, ...latest };
    if (state.status === 'pending' && nowMs - state.sinceMs >= timing.sustainMs) fire(state, false);
    else if (state.status === 'firing' && state.notifiedMs !== undefined && nowMs - state.notifiedMs >= timing.renotifyMs) fire(state, true);
    else changed.push(state);
  }
  for (const [key, state] of states) {
    if (seen.has(key)) continue;
    if (state.status === 'pending') {
      removed.push(key);
    } else if (nowMs - state.lastDepartedMs >= timing.resolveAfterMs) {
      removed.push(key);
      events.push({ type: 'resolve', state, atMs: nowMs });
    }
  }
  return { changed, removed, events };

  function fire(state: IncidentState, renotification: boolean): void {
    const firing: IncidentState = { ...state, status: 'firing', notifiedMs: nowMs };
    const at = changed.findIndex((s) => s.key === firing.key);
    if (at >= 0) changed[at] = firing;
    else changed.push(firing);
    events.push({ type: 'fire', state: firing, renotification });
  }
}
