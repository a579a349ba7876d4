import { GoogleAuth, type GoogleAuthOptions } from 'google-auth-library';
import { SinkError } from '../errors.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { withResourceAttribute } from './google-resource-attribute.js';
import { HttpDelivery } from './http-delivery.js';
import { errorMessageOf, readPartialSuccess } from './otlp-http-response.js';
import type { RetryRuntime, RetrySettings } from './retry.js';
import type { KeptBatch, TraceSink } from './sink.js';

/** Google's OTLP/HTTP traces endpoint (the Telemetry API). */
export const GOOGLE_TELEMETRY_TRACES_ENDPOINT = 'https://telemetry.googleapis.com/v1/traces';

/** The narrowest OAuth scope the Telemetry API takes for writing traces (`cloud-platform` also works). */
export const TRACE_APPEND_SCOPE = 'https://www.googleapis.com/auth/trace.append';

/** The resource attribute that names the project a resource's spans are stored in. */
export const PROJECT_ID_ATTRIBUTE = 'gcp.project_id';

export interface GoogleCloudTraceSinkOptions {
  /** Project the traces go to; default: the one google-auth-library finds (GOOGLE_CLOUD_PROJECT, the credentials, gcloud, the metadata server). */
  readonly projectId?: string;
  /** Full URL; default GOOGLE_TELEMETRY_TRACES_ENDPOINT. */
  readonly endpoint?: string;
  /** Time limit of one attempt, answer body included, ms. Default 10 s. */
  readonly timeoutMs?: number;
  /**
   * How google-auth-library finds credentials; default application-default credentials with
   * TRACE_APPEND_SCOPE. Tests name a credentials file and a local token endpoint here.
   */
  readonly auth?: GoogleAuthOptions;
  /** Backoff between attempts; defaults in DEFAULT_RETRY (60 s in all). */
  readonly retry?: Partial<RetrySettings>;
  /** Clock, sleep and randomness of the retry loop; real ones by default (tests inject their own). */
  readonly retryRuntime?: Pick<RetryRuntime, 'now' | 'sleep' | 'random'>;
  readonly logger?: Logger;
}

// The statuses the OTLP spec says to retry; every other 4xx/5xx must not be retried.
const RETRIABLE_STATUSES = new Set([429, 502, 503, 504]);

/**
 * Forwards kept traces to Google Cloud Trace through Google's OTLP endpoint: OTLP protobuf,
 * gzip, an OAuth bearer token from application-default credentials (fetched and refreshed
 * before expiry by google-auth-library, fresh per attempt), the project in
 * `x-goog-user-project`, and a `gcp.project_id` resource attribute on every resource that has
 * none, as the endpoint requires. The project comes from the config, else from
 * google-auth-library's lookup; with neither, every send fails with a retriable SinkError that
 * says how to set one, and the traces stay buffered. A token that cannot be had fails the
 * attempt like a network failure: retried, then a retriable SinkError. Statuses are retried as
 * for any OTLP destination. Tokens never appear in errors or logs.
 */
export class GoogleCloudTraceSink implements TraceSink {
  readonly name: string;
  private readonly auth: GoogleAuth;
  private readonly configuredProject: string | undefined;
  private readonly logger: Logger;
  private readonly delivery: HttpDelivery;
  private project: Promise<string> | undefined;

  constructor(options: GoogleCloudTraceSinkOptions = {}) {
    const endpoint = options.endpoint ?? GOOGLE_TELEMETRY_TRACES_ENDPOINT;
    this.name = `google-cloud-trace ${HttpDelivery.describe(endpoint)}`;
    this.configuredProject = options.projectId;
    this.logger = options.logger ?? silentLogger;
    this.auth = new GoogleAuth({
      scopes: [TRACE_APPEND_SCOPE],
      ...options.auth,
      ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
    });
    this.delivery = new HttpDelivery({
      sink: this.name,
      kind: 'Google Cloud Trace',
      endpoint,
      contentType: 'application/x-protobuf',
      timeoutMs: options.timeoutMs,
      compression: 'gzip',
      retry: options.retry,
      retryRuntime: options.retryRuntime,
      retriableStatus: (status) => RETRIABLE_STATUSES.has(status),
      errorMessage: (answer) => errorMessageOf(answer.body, answer.headers.get('content-type')),
      authorize: () => this.authorization(),
    });
  }

  send(batch: KeptBatch): Promise<void> {
    return this.delivery.send(() => this.deliver(batch));
  }

  /** Waits for sends in flight (their retries included), then refuses new ones. Idempotent. */
  close(): Promise<void> {
    return this.delivery.close();
  }

  private async deliver(batch: KeptBatch): Promise<void> {
    const project = await this.projectId();
    let body: Uint8Array;
    try {
      body = withResourceAttribute(batch.request, PROJECT_ID_ATTRIBUTE, project);
    } catch (err) {
      throw new SinkError(this.name, `cannot add ${PROJECT_ID_ATTRIBUTE} to the batch: ${(err as Error).message}`, { retriable: false, cause: err });
    }
    const answer = await this.delivery.post(body);
    const partial = readPartialSuccess(answer.body, answer.headers.get('content-type'));
    // The spec forbids retrying a partial success: the rejected spans are lost downstream.
    if (partial !== undefined && partial.rejectedSpans > 0) {
      this.logger.warn(
        { sink: this.name, rejectedSpans: partial.rejectedSpans, sentSpans: batch.spanCount, reason: partial.errorMessage },
        'Google Cloud Trace rejected part of a batch',
      );
    }
  }

  /**
   * The project, looked up once: google-auth-library keeps the outcome, a failure included,
   * so a missing project stays missing until a restart with one set.
   */
  private projectId(): Promise<string> {
    if (this.configuredProject !== undefined) return Promise.resolve(this.configuredProject);
    this.project ??= this.auth.getProjectId().catch((err: unknown) => {
      const reason = (err as Error).message.split('\n')[0].trim();
      throw new SinkError(
        this.name,
        `no Google Cloud project id: set projectId in the sink's config, or GOOGLE_CLOUD_PROJECT, or use credentials that name a project (${reason})`,
        { retriable: true },
      );
    });
    return this.project;
  }

  /**
   * The headers of one attempt. google-auth-library caches the token and refreshes it shortly
   * before it expires. Its errors are passed on by message only: the error objects carry the
   * token request, with the refresh token or the signed assertion in it.
   */
  private async authorization(): Promise<Record<string, string>> {
    const project = await this.projectId();
    let headers: Headers;
    try {
      headers = await this.auth.getRequestHeaders();
    } catch (err) {
      throw new Error(`cannot get a Google access token: ${(err as Error).message}`);
    }
    const authorization = headers.get('authorization');
    if (authorization === null) throw new Error('cannot get a Google access token: the credentials gave no authorization header');
    // A quota project named by the credentials (quota_project_id) is the one they bill; keep it.
    return { authorization, 'x-goog-user-project': headers.get('x-goog-user-project') ?? project };
  }
}
