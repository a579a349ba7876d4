import { parseArgs } from 'node:util';
import { loadEngineConfig } from '../config/engine-config.js';
import { Engine } from '../engine.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../telemetry/logger.js';
import { usageError } from './usage.js';

/**
 * `tailsift run [--config FILE]`: runs until SIGINT/SIGTERM, then stops intake, decides what
 * is pending, flushes the sinks and exits 0. A second signal exits at once.
 */
export async function runCommand(args: string[]): Promise<number> {
  let values: { config?: string };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true }));
  } catch (err) {
    return usageError((err as Error).message);
  }

  const loaded = await loadEngineConfig(values.config);
  if (!loaded.ok) {
    for (const p of loaded.problems) process.stderr.write(`${p}\n`);
    return 1;
  }

  const logger = createLogger();
  let engine: Engine;
  try {
    engine = await Engine.create(loaded.config, { logger });
    await engine.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`${p}\n`);
      return 1;
    }
    logger.fatal({ err }, 'tailsift could not start');
    logger.flush();
    return 1;
  }

  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: exiting without draining');
        logger.flush();
        process.exit(130);
      }
      signalled = true;
      logger.info({ signal }, 'stopping: intake closed, deciding pending traces, flushing sinks');
      engine.stop().then(
        () => {
          logger.info('stopped');
          logger.flush();
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          logger.flush();
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
