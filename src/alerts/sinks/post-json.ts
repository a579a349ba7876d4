import { SinkError } from '../../errors.js';
import { parseRetryAfter } from '../../forward/retry.js';

/**
 * POSTs a JSON body and classifies the outcome the way the retry logic needs it: 2xx is
 * done; 408, 429 and 5xx, timeouts and network errors are worth retrying (with the server's
 * Retry-After when it gave one); any other status is a refusal that retrying cannot fix.
 */
export async function postJson(sink: string, url: string, body: unknown, options: { headers?: Readonly<Record<string, string>>; timeoutMs: number }): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${options.timeoutMs}ms` : describe(err);
    throw new SinkError(sink, `POST ${url} failed: ${reason}`, { retriable: true, cause: err });
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return;
  const retriable = response.status === 408 || response.status === 429 || response.status >= 500;
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
  throw new SinkError(sink, `POST ${url} answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`, { retriable, retryAfterMs });
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}
