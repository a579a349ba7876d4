import { pino, destination, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stderr (stdout stays free for command output such as
 * `validate` problems). Level from TAILSIFT_LOG_LEVEL, default info.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'tailsift',
      level: options.level ?? process.env.TAILSIFT_LOG_LEVEL ?? 'info',
      base: undefined,
    },
    destination({ fd: 2, sync: false }),
  );
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
