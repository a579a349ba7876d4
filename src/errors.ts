/**
 * The error hierarchy of tailsift. Every error has a stable `code` (never reused for a
 * different meaning) and a `retriable` flag; retry logic looks only at that flag.
 */
export class TailsiftError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A malformed OTLP payload. `offset` is the byte (protobuf) where decoding stopped, when known. */
export class OtlpDecodeError extends TailsiftError {
  readonly offset: number | undefined;

  constructor(message: string, offset?: number) {
    super('OTLP_MALFORMED', offset === undefined ? message : `${message} (at byte ${offset})`);
    this.offset = offset;
  }
}

/** A destination refused or failed to take kept traces. */
export class SinkError extends TailsiftError {
  readonly sink: string;
  /** Milliseconds the destination asked us to wait (Retry-After), when it said so. */
  readonly retryAfterMs: number | undefined;

  constructor(sink: string, message: string, options: { retriable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super('SINK_FAILED', `${sink}: ${message}`, options);
    this.sink = sink;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** An invalid engine config or policy file; `problems` holds one line per problem. */
export class ConfigError extends TailsiftError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', problems.join('\n'));
    this.problems = problems;
  }
}
