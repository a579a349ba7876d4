import type { RecordedDecision } from '../trace-buffer.js';

/**
 * A recorded decision as stored in its decision key: "1" kept or "0" dropped, then ":" and the
 * policy's name when a policy made it. Short because there is one per decided trace.
 */
export function encodeDecision(decision: RecordedDecision): string {
  const kind = decision.keep ? '1' : '0';
  return decision.policy === undefined ? kind : `${kind}:${decision.policy}`;
}

export function decodeDecision(stored: string): RecordedDecision {
  const keep = stored.charCodeAt(0) === 0x31;
  return { keep, policy: stored.length > 1 ? stored.slice(2) : undefined };
}
