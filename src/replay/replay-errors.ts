import { TailsiftError } from '../errors.js';

/**
 * Input that replay cannot read: a missing path, a malformed line or message. The message
 * names where (`FILE:LINE: reason`, or `FILE: message N (at byte B): reason` for protobuf), so
 * a user testing a policy can go straight to the bad data. Replay stops at the first one.
 */
export class ReplayInputError extends TailsiftError {
  constructor(message: string) {
    super('REPLAY_INPUT_INVALID', message);
  }
}

/** A replay asked for something contradictory (e.g. `--out` among the inputs): a usage error. */
export class ReplayUsageError extends TailsiftError {
  constructor(message: string) {
    super('REPLAY_USAGE', message);
  }
}
