import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseEngineConfigText } from '../../src/config/engine-config.js';
import { SinkError } from '../../src/errors.js';
import { GoogleCloudTraceSink, type GoogleCloudTraceSinkOptions } from '../../src/forward/google-cloud-trace-sink.js';
import type { KeptBatch } from '../../src/forward/sink.js';
import { createSink } from '../../src/forward/sinks.js';
import { decodeProtobufRequest, protobufRequestToJson } from '../../src/otlp/index.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makeSdkSpans, summarizeSdkSpans, summarizeViews } from '../ingest/sdk-spans.js';
import { reply, startLocalOtlpServer, type LocalOtlpServer, type ReceivedRequest } from './local-otlp-server.js';

/**
 * One local server plays Google: `/token` is the OAuth token endpoint the credentials file's
 * client refreshes its token at (google-auth-library's `clientOptions.endpoints` hook),
 * `/v1/traces` the OTLP endpoint, and everything else (the metadata server, through
 * GCE_METADATA_HOST) answers 404, so nothing here reaches the network.
 */
interface TokenAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

let dir: string;
let credentialsFile: string;
let server: LocalOtlpServer;
/** What the token endpoint answers next; one entry per token request, the last one repeats. */
let tokenAnswers: TokenAnswer[] = [];
const sinks: GoogleCloudTraceSink[] = [];
let clock = 0;

const issued = (token: string, expiresIn = 3600): TokenAnswer => ({ status: 200, body: { access_token: token, expires_in: expiresIn, token_type: 'Bearer' } });
const revoked: TokenAnswer = { status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tailsift-gcp-'));
  credentialsFile = join(dir, 'application_default_credentials.json');
  await writeFile(
    credentialsFile,
    JSON.stringify({ type: 'authorized_user', client_id: 'test-client.apps.googleusercontent.com', client_secret: 'test-client-secret', refresh_token: 'test-refresh-token' }),
  );
  server = await startLocalOtlpServer((res, index) => {
    const url = server.received[index].url;
    if (url === '/token') {
      const answer = tokenAnswers.length > 1 ? (tokenAnswers.shift() as TokenAnswer) : tokenAnswers[0];
      reply(res, answer.status, { 'content-type': 'application/json' }, JSON.stringify(answer.body));
    } else if (url === '/v1/traces') {
      reply(res, 200, { 'content-type': 'application/x-protobuf' });
    } else {
      reply(res, 404, { 'content-type': 'text/plain' }, 'not found');
    }
  });
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  // Application-default credentials read these; the test machine's own must not leak in.
  vi.stubEnv('GOOGLE_CLOUD_PROJECT', '');
  vi.stubEnv('GCLOUD_PROJECT', '');
  vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', '');
  vi.stubEnv('CLOUDSDK_CONFIG', dir);
  vi.stubEnv('GCE_METADATA_HOST', new URL(server.url).host);
  tokenAnswers = [issued('ya29.first-token')];
  server.received.length = 0;
});

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  vi.unstubAllEnvs();
});

function sink(options: Partial<GoogleCloudTraceSinkOptions> = {}): GoogleCloudTraceSink {
  const origin = new URL(server.url).origin;
  const made = new GoogleCloudTraceSink({
    endpoint: server.url,
    auth: { keyFilename: credentialsFile, clientOptions: { endpoints: { oauth2TokenUrl: `${origin}/token` } } },
    // Retry waits advance a fake clock, so giving up takes a few attempts and no time.
    retry: { initialMs: 100, maxMs: 100, maxElapsedMs: 250, jitter: 0 },
    retryRuntime: {
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    },
    ...options,
  });
  sinks.push(made);
  return made;
}

function batchOf(): { batch: KeptBatch; spans: ReturnType<typeof makeSdkSpans> } {
  const spans = makeSdkSpans({ traces: 2, spansPerTrace: 3 });
  return { batch: { request: ProtobufTraceSerializer.serializeRequest(spans)!, traceCount: 2, spanCount: spans.length }, spans };
}

const toTraces = (): ReceivedRequest[] => server.received.filter((r) => r.url === '/v1/traces');
const toToken = (): ReceivedRequest[] => server.received.filter((r) => r.url === '/token');

function projectAttributes(body: Buffer): unknown[] {
  return (protobufRequestToJson(body).resourceSpans ?? []).map((rs) => rs.resource?.attributes?.find((a) => a.key === 'gcp.project_id')?.value);
}

async function sendError(target: GoogleCloudTraceSink, batch: KeptBatch): Promise<SinkError> {
  const error = await target.send(batch).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(SinkError);
  return error as SinkError;
}

describe('GoogleCloudTraceSink', () => {
  it('sends OTLP protobuf with the bearer token the token endpoint issued, the project header and gcp.project_id on every resource', async () => {
    const { batch, spans } = batchOf();
    await sink({ projectId: 'tailsift-test' }).send(batch);

    const [tokenRequest] = toToken();
    const form = new URLSearchParams(tokenRequest.body.toString());
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(form.get('refresh_token')).toBe('test-refresh-token');

    const [got] = toTraces();
    expect(got.method).toBe('POST');
    expect(got.headers.authorization).toBe('Bearer ya29.first-token');
    expect(got.headers['x-goog-user-project']).toBe('tailsift-test');
    expect(got.headers['content-type']).toBe('application/x-protobuf');
    expect(got.headers['content-encoding']).toBe('gzip');
    expect(projectAttributes(got.body)).toEqual([{ stringValue: 'tailsift-test' }]);
    const decoded = decodeProtobufRequest(got.body);
    expect(decoded.ok && summarizeViews(decoded.value.spans)).toEqual(summarizeSdkSpans(spans));
  });

  it('reuses a token while it is valid and gets a new one once it is about to expire', async () => {
    // 30 s is inside google-auth-library's refresh margin (5 min): the token counts as expiring at once.
    tokenAnswers = [issued('ya29.short-lived', 30), issued('ya29.second-token', 3600)];
    const target = sink({ projectId: 'tailsift-test' });
    for (let i = 0; i < 3; i++) await target.send(batchOf().batch);
    expect(toTraces().map((r) => r.headers.authorization)).toEqual(['Bearer ya29.short-lived', 'Bearer ya29.second-token', 'Bearer ya29.second-token']);
    expect(toToken()).toHaveLength(2);
  });

  it('takes the project from the environment when the config has none, and keeps the quota project the credentials name', async () => {
    const withQuota = join(dir, 'with-quota.json');
    await writeFile(
      withQuota,
      JSON.stringify({ type: 'authorized_user', client_id: 'c', client_secret: 's', refresh_token: 'r', quota_project_id: 'billing-project' }),
    );
    vi.stubEnv('GOOGLE_CLOUD_PROJECT', 'env-project');
    const origin = new URL(server.url).origin;
    await sink({ auth: { keyFilename: withQuota, clientOptions: { endpoints: { oauth2TokenUrl: `${origin}/token` } } } }).send(batchOf().batch);
    const [got] = toTraces();
    expect(got.headers['x-goog-user-project']).toBe('billing-project');
    expect(projectAttributes(got.body)).toEqual([{ stringValue: 'env-project' }]);
  });

  it('fails retriably, saying how to set a project, when neither the config nor the credentials give one', async () => {
    const error = await sendError(sink(), batchOf().batch);
    expect(error.retriable).toBe(true);
    expect(error.message).toContain('no Google Cloud project id: set projectId');
    expect(error.message).toContain('GOOGLE_CLOUD_PROJECT');
    expect(toTraces()).toHaveLength(0);
  });

  it('retries when the token endpoint fails, and delivers once it issues a token', async () => {
    tokenAnswers = [revoked, issued('ya29.after-failure')];
    await sink({ projectId: 'tailsift-test' }).send(batchOf().batch);
    expect(toToken()).toHaveLength(2);
    expect(toTraces().map((r) => r.headers.authorization)).toEqual(['Bearer ya29.after-failure']);
  });

  it('gives up with a retriable error when the token endpoint keeps failing, never reaching the OTLP endpoint or showing secrets', async () => {
    tokenAnswers = [revoked];
    const error = await sendError(sink({ projectId: 'tailsift-test' }), batchOf().batch);
    expect(error.retriable).toBe(true);
    expect(error.message).toMatch(/gave up after \d+ attempts/);
    expect(error.message).toContain('cannot get a Google access token');
    expect(error.message).toContain('invalid_grant');
    expect(toToken().length).toBeGreaterThan(1);
    expect(toTraces()).toHaveLength(0);
    // The whole cause chain is what a logger could print.
    const printed: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) printed.push(e.message, String(e.stack), JSON.stringify(e));
    expect(printed.join('\n')).not.toMatch(/test-refresh-token|test-client-secret/);
  });
});

describe('google-cloud-trace sink config', () => {
  it('fills in Google\'s endpoint and a 10s timeout, and refuses keys it does not have', () => {
    const parsed = parseEngineConfigText('sinks: [{ type: google-cloud-trace, projectId: my-project }]\n', join(dir, 'tailsift.yaml'));
    expect(parsed.ok && parsed.config.sinks[0]).toEqual({
      type: 'google-cloud-trace',
      projectId: 'my-project',
      endpoint: 'https://telemetry.googleapis.com/v1/traces',
      timeout: 10_000,
    });
    const wrong = parseEngineConfigText('sinks: [{ type: google-cloud-trace, credentials: key.json }]\n', join(dir, 'tailsift.yaml'));
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.problems.join('\n')).toContain('sinks[0].credentials: unknown key "credentials"');
  });

  it('goes from the config to the wire with application-default credentials found through GOOGLE_APPLICATION_CREDENTIALS', async () => {
    // Workforce identity federation credentials name their token endpoint in the file itself.
    const adc = join(dir, 'workforce.json');
    await writeFile(
      adc,
      JSON.stringify({
        type: 'external_account_authorized_user',
        audience: '//iam.googleapis.com/locations/global/workforcePools/pool/providers/provider',
        client_id: 'c',
        client_secret: 's',
        refresh_token: 'r',
        token_url: `${new URL(server.url).origin}/token`,
      }),
    );
    vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', adc);
    tokenAnswers = [issued('ya29.from-adc')];
    const parsed = parseEngineConfigText(`sinks: [{ type: google-cloud-trace, projectId: adc-project, endpoint: "${server.url}" }]\n`, join(dir, 'tailsift.yaml'));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const built = createSink(parsed.config.sinks[0], silentLogger);
    try {
      expect(built.name).toBe(`google-cloud-trace ${server.url}`);
      await built.send(batchOf().batch);
    } finally {
      await built.close();
    }
    const [got] = toTraces();
    expect(got.headers.authorization).toBe('Bearer ya29.from-adc');
    expect(got.headers['x-goog-user-project']).toBe('adc-project');
  });
});
