import type { IncidentState } from './incident-tracker.js';

/**
 * What the alerting of all instances shares: who evaluates incidents (a leader lease), the
 * incidents' states (so a new leader continues them instead of notifying again), and
 * exemplar trace ids that any instance's kept traces contribute. Memory for one instance
 * (always the leader), Redis for many.
 */
export interface AlertState {
  /** Takes or renews the leader lease; true while this instance holds it. */
  lead(nowMs: number): Promise<boolean>;
  incidents(): Promise<Map<string, IncidentState>>;
  saveIncidents(changed: readonly IncidentState[], removed: readonly string[]): Promise<void>;
  /** Adds a kept trace as an exemplar of an incident subject. Never waits; failures are counted. */
  addExemplar(key: string, traceId: string): void;
  /** The most recent exemplars first, at most `max`. */
  exemplars(key: string, max: number): Promise<string[]>;
  clearExemplars(key: string): Promise<void>;
  /** Gives up the lease (others take over at once) and releases resources. Idempotent. */
  close(): Promise<void>;
}

/** Exemplars kept per subject, so a long incident does not grow them without bound. */
export const EXEMPLARS_KEPT = 100;

/** One instance: always the leader. */
export class MemoryAlertState implements AlertState {
  private readonly states = new Map<string, IncidentState>();
  private readonly examples = new Map<string, string[]>();

  async lead(_nowMs: number): Promise<boolean> {
    return true;
  }

  async incidents(): Promise<Map<string, IncidentState>> {
    return new Map(this.states);
  }

  async saveIncidents(changed: readonly IncidentState[], removed: readonly string[]): Promise<void> {
    for (const state of changed) this.states.set(state.key, state);
    for (const key of removed) this.states.delete(key);
  }

  addExemplar(key: string, traceId: string): void {
    let list = this.examples.get(key);
    if (list === undefined) {
      list = [];
      this.examples.set(key, list);
    }
    if (list[0] === traceId) return;
    list.unshift(traceId);
    if (list.length > EXEMPLARS_KEPT) list.length = EXEMPLARS_KEPT;
  }

  async exemplars(key: string, max: number): Promise<string[]> {
    return (this.examples.get(key) ?? []).slice(0, max);
  }

  async clearExemplars(key: string): Promise<void> {
    this.examples.delete(key);
  }

  async close(): Promise<void> {}
}
