import { TailsiftError } from '../../errors.js';

/** The negative return codes of the buffer's Lua scripts (see their headers). */
export enum ScriptCode {
  /** The trace is claimed under another token, or its lease expired and it was requeued. */
  LeaseLost = -1,
  /** The trace is not pending: whoever retook its expired lease decided it. */
  NotPending = -2,
}

/** A failed or refused operation of the Redis trace buffer. */
export class RedisBufferError extends TailsiftError {}

/** Redis could not be reached or could not take the write; trying again later can succeed. */
export const BUFFER_UNAVAILABLE = 'BUFFER_UNAVAILABLE';
/** A claim ended without its holder: the trace was retaken and is (or was) decided by another claim. */
export const BUFFER_LEASE_LOST = 'BUFFER_LEASE_LOST';
/** A script failed or answered what it never answers: a bug or a key written by something else. */
export const BUFFER_SCRIPT_FAILED = 'BUFFER_SCRIPT_FAILED';
/** The keys under the prefix are in a layout this version cannot read (written by another version). */
export const BUFFER_FORMAT_MISMATCH = 'BUFFER_FORMAT_MISMATCH';

/** The user-facing error for a script's negative return code. */
export function scriptError(code: number, operation: string, traceId: string): RedisBufferError {
  switch (code) {
    case ScriptCode.LeaseLost:
      return new RedisBufferError(
        BUFFER_LEASE_LOST,
        `${operation} trace ${traceId}: its lease was lost (the claim expired and the trace was requeued or ` +
          `claimed again), so the trace is decided again elsewhere; count this decision as a possible duplicate`,
      );
    case ScriptCode.NotPending:
      return new RedisBufferError(
        BUFFER_LEASE_LOST,
        `${operation} trace ${traceId}: the trace is no longer pending (its claim expired and whoever retook it ` +
          `decided it already); count this decision as a possible duplicate`,
      );
    default:
      return new RedisBufferError(BUFFER_SCRIPT_FAILED, `${operation} trace ${traceId}: unknown script return code ${code}`);
  }
}

/** Server replies that say "not now" rather than "never": the write may succeed later. */
const TRANSIENT_REPLIES = /^(OOM|LOADING|BUSY|READONLY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|MOVED|ASK)\b/;

/**
 * The error an operation rejects with when Redis failed it. Connection trouble and transient
 * server states are retriable (`BUFFER_UNAVAILABLE`: intake slows down, claims retry next
 * round; ioredis reconnects by itself); any other error reply is not.
 */
export function redisFailure(err: unknown, operation: string): TailsiftError {
  if (err instanceof TailsiftError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const isReply = err instanceof Error && err.name === 'ReplyError';
  if (isReply && !TRANSIENT_REPLIES.test(message)) {
    return new RedisBufferError(BUFFER_SCRIPT_FAILED, `Redis trace buffer: ${operation} failed: ${message}`, { cause: err });
  }
  return new RedisBufferError(BUFFER_UNAVAILABLE, `Redis trace buffer unavailable (${operation}): ${message}`, {
    retriable: true,
    cause: err,
  });
}
