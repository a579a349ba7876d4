import { parseArgs } from 'node:util';
import { loadEngineConfig } from '../config/engine-config.js';
import { redactText } from '../config/redaction.js';
import { Engine } from '../engine.js';
import { ConfigError } from '../errors.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { usageError } from './usage.js';

/**
 * `tailsift run [--config FILE]`: runs until SIGINT/SIGTERM, then stops intake, decides what
 * is pending (or leaves it in Redis: `buffer.pendingOnShutdown`), flushes the sinks and exits
 * 0. A second signal exits at once with 130, without draining.
 *
 * The config is the file (or the embedded defaults) with `${VAR}` references replaced and
 * `TAILSIFT_*` variables applied; its secrets never reach a log line or a printed problem.
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
    // A problem may quote a value, and a value may hold a password (a URL that did not validate).
    for (const p of loaded.problems) process.stderr.write(`${redactText(p)}\n`);
    return 1;
  }

  const logger = createLogger({ secrets: loaded.secrets });
  let engine: Engine;
  try {
    engine = await Engine.create(loaded.config, { logger });
  } catch (err) {
    return startFailed(err, logger, loaded.secrets);
  }

  return new Promise<number>((resolve) => {
    let signalled = false;
    // Signals are handled from before the start: a SIGTERM while the engine starts (a quick
    // rollout) stops it once started, instead of killing the process mid-way.
    const starting = engine.start();
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: exiting without draining');
        logger.flush();
        process.exit(130);
      }
      signalled = true;
      logger.info({ signal }, 'stopping: intake closed, deciding pending traces, flushing sinks');
      starting
        .then(() => engine.stop())
        .then(
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
    starting.catch((err: unknown) => resolve(startFailed(err, logger, loaded.secrets)));
  });
}

function startFailed(err: unknown, logger: Logger, secrets: readonly string[]): number {
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`${redactText(p, secrets)}\n`);
    return 1;
  }
  logger.fatal({ err }, 'tailsift could not start');
  logger.flush();
  return 1;
}
