import { pino, destination, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { redactText } from '../config/redaction.js';

export type { Logger };

export interface LoggerOptions {
  readonly level?: string;
  readonly name?: string;
  /** Strings never written as they are (see `redactText`). */
  readonly secrets?: readonly string[];
  /** Where lines go instead of stderr (tests). */
  readonly destination?: DestinationStream;
}

/**
 * The process logger on stderr (stdout stays free for command output such as `validate`
 * problems): JSON lines, or readable lines when stderr is a terminal. Written synchronously:
 * nothing logs per span, and a line written just before exit is never lost.
 * Level from TAILSIFT_LOG_LEVEL (default info); TAILSIFT_LOG_FORMAT=json|pretty overrides the
 * terminal detection.
 *
 * Every line is redacted before it is written: passwords in URLs always, and the config's
 * `secrets` (header values, `${...}` values of secret variables) wherever they appear, so a
 * secret quoted in an error message does not reach the log either.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = options.secrets ?? [];
  const format = process.env.TAILSIFT_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const stream: DestinationStream =
    options.destination ??
    (format === 'pretty'
      ? pretty({ destination: 2, sync: true, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss' })
      : destination({ fd: 2, sync: true }));
  return pino(
    {
      name: options.name ?? 'tailsift',
      level: options.level ?? process.env.TAILSIFT_LOG_LEVEL ?? 'info',
      base: undefined,
      hooks: { streamWrite: (line) => redactText(line, secrets) },
    },
    stream,
  );
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
