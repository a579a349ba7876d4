/** The engine's notion of now, injected so replay can run in event time. */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
}

export const wallClock: Clock = { now: () => Date.now() };
