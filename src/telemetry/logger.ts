import { pino, destination, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * The process logger on stderr (stdout stays free for command output such as `validate`
 * problems): JSON lines, or readable lines when stderr is a terminal. Written synchronously:
 * nothing logs per span, and a line written just before exit is never lost.
 * Level from TAILSIFT_LOG_LEVEL (default info); TAILSIFT_LOG_FORMAT=json|pretty overrides the
 * terminal detection.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  const format = process.env.TAILSIFT_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const stream: DestinationStream =
    format === 'pretty'
      ? pretty({ destination: 2, sync: true, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss' })
      : destination({ fd: 2, sync: true });
  return pino(
    {
      name: options.name ?? 'tailsift',
      level: options.level ?? process.env.TAILSIFT_LOG_LEVEL ?? 'info',
      base: undefined,
    },
    stream,
  );
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
