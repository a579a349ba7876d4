import type { PolicyEvaluator } from './evaluator.js';

/**
 * An evaluator that samples a random share of the traces that reach it (probabilistic,
 * dynamic, or an `and` holding one). The policy set reports `1 / keepProbability` as the
 * sample rate of the traces it keeps, so counts can be scaled back up downstream.
 */
export interface RandomShareEvaluator extends PolicyEvaluator {
  /**
   * Probability (0..1] that a trace meeting the other conditions is sampled; undefined: not
   * random. For an evaluator whose share varies (dynamic), the share it applied to the trace
   * it evaluated last, which is the one the policy set asks about.
   */
  readonly keepProbability: number | undefined;
}

export function keepProbabilityOf(evaluator: PolicyEvaluator): number | undefined {
  const value = (evaluator as Partial<RandomShareEvaluator>).keepProbability;
  return typeof value === 'number' && value > 0 ? value : undefined;
}

/**
 * `1 / keepProbability`, as a whole number when it is one: 1 / (1 / 49) is 49.00000000000001
 * in floating point, and a rate of 1 in 49 should read 49.
 */
export function sampleRateOf(evaluator: PolicyEvaluator): number | undefined {
  const probability = keepProbabilityOf(evaluator);
  if (probability === undefined) return undefined;
  const rate = 1 / probability;
  const whole = Math.round(rate);
  return Math.abs(rate - whole) <= rate * 1e-12 ? whole : rate;
}
