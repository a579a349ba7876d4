import { TailsiftError } from '../errors.js';

/** A bad `generate` option: the command prints the message on one line and exits 2. */
export class GenerateUsageError extends TailsiftError {
  constructor(message: string) {
    super('GENERATE_USAGE', message);
  }
}
