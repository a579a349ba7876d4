import type { PolicyEvaluator } from './evaluator.js';

/**
 * An evaluator that samples a random share of the traces that reach it (probabilistic, or an
 * `and` holding one). The policy set reports `1 / keepProbability` as the sample rate of the
 * traces it keeps, so counts can be scaled back up downstream.
 */
export interface RandomShareEvaluator extends PolicyEvaluator {
  /** Probability (0..1] that a trace meeting the other conditions is sampled; undefined: not random. */
  readonly keepProbability: number | undefined;
}

export function keepProbabilityOf(evaluator: PolicyEvaluator): number | undefined {
  const value = (evaluator as Partial<RandomShareEvaluator>).keepProbability;
  return typeof value === 'number' && value > 0 ? value : undefined;
}
