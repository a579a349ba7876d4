import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks `Authorization: Bearer <token>` headers against the configured token.
 *
 * Both sides are hashed before the constant-time comparison: timingSafeEqual needs equal
 * lengths, and comparing digests keeps the time from telling how long the token is or how
 * many of its leading characters a guess got right.
 */
export class BearerTokenCheck {
  private readonly expected: Buffer;

  constructor(token: string) {
    if (token.length === 0) throw new RangeError('the bearer token must not be empty');
    this.expected = digest(token);
  }

  /** True when the header carries the token; the scheme is case-insensitive, as RFC 6750 says. */
  accepts(authorization: string | undefined): boolean {
    const presented = tokenOf(authorization);
    // A missing token is still hashed and compared, so refusals all take the same path.
    const matches = timingSafeEqual(digest(presented ?? ''), this.expected);
    return presented !== undefined && matches;
  }
}

function tokenOf(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  return match === null ? undefined : match[1];
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
