import type { Scenario } from '../service-model.js';
import { GenerateUsageError } from '../usage-error.js';
import { benchScenario } from './bench.js';
import { ragScenario } from './rag.js';
import { shopScenario } from './shop.js';

export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map(
  [shopScenario, ragScenario, benchScenario].map((scenario) => [scenario.name, scenario]),
);

export const DEFAULT_SCENARIO = 'shop';

export function getScenario(name: string): Scenario {
  const scenario = SCENARIOS.get(name);
  if (!scenario) {
    throw new GenerateUsageError(`--scenario ${JSON.stringify(name)}: unknown; choose one of ${[...SCENARIOS.keys()].join(', ')}`);
  }
  return scenario;
}
