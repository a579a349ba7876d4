import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { ConfigError } from '../errors.js';

/** AWS credentials as the signer needs them; a session token comes with temporary ones. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When temporary credentials stop working. */
  readonly expiration?: Date;
}

/** Resolves the credentials to sign with now; may answer from a cache. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/**
 * The AWS SDK's default credential chain: environment variables, SSO, web identity token,
 * the shared config and credentials files (`AWS_PROFILE`), a `credential_process`, then the
 * ECS container or EC2 instance role. It caches what it found and fetches again a few minutes
 * before temporary credentials expire, so calling it per request is cheap.
 */
export function defaultAwsCredentials(): AwsCredentialsProvider {
  const provider = defaultProvider();
  return () => provider();
}

/**
 * The region to sign for: the configured one, else `AWS_REGION`, else `AWS_DEFAULT_REGION`
 * (the variables AWS SDKs and the CLI read).
 */
export function resolveAwsRegion(configured: string | undefined, where: string, env: NodeJS.ProcessEnv = process.env): string {
  const region = [configured, env.AWS_REGION, env.AWS_DEFAULT_REGION].find((r) => r !== undefined && r.trim() !== '');
  if (region === undefined) {
    throw new ConfigError([`${where} has no AWS region; set its region, or AWS_REGION (or AWS_DEFAULT_REGION) in the environment`]);
  }
  return region.trim();
}

/** One request to sign. */
export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** The body exactly as it goes on the wire (after compression); absent for none. */
  readonly body?: Uint8Array;
}

export interface SigV4SignerOptions {
  readonly region: string;
  /** The service's signing name, e.g. `xray`. */
  readonly service: string;
  readonly credentials: AwsCredentialsProvider;
  /** The signing clock; the real one by default (tests fix it). */
  readonly now?: () => Date;
}

class Sha256 extends Hash {
  constructor(secret?: Parameters<typeof Hash.prototype.update>[0]) {
    super('sha256', secret);
  }
}

/**
 * AWS Signature Version 4 over whole requests, with the AWS SDK's signer. A signature holds
 * the time it was made and AWS refuses it some minutes later, so sign each attempt anew.
 */
export class SigV4Signer {
  private readonly signer: SignatureV4;
  private readonly now: () => Date;

  constructor(options: SigV4SignerOptions) {
    this.now = options.now ?? (() => new Date());
    this.signer = new SignatureV4({
      service: options.service,
      region: options.region,
      credentials: options.credentials,
      sha256: Sha256,
      // Only S3 and Glacier need the payload hash as a header; other services compute it themselves.
      applyChecksum: false,
    });
  }

  /**
   * The headers to add to `request` so that it is signed: `authorization`, `x-amz-date`, and
   * `x-amz-security-token` with temporary credentials. `host` is signed as the URL names it,
   * which is what the HTTP client sends.
   */
  async sign(request: SignableRequest): Promise<Record<string, string>> {
    const { url } = request;
    const query: Record<string, string | string[]> = {};
    for (const key of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(key);
      query[key] = values.length === 1 ? (values[0] as string) : values;
    }
    const headers: Record<string, string> = { ...request.headers, host: url.host };
    const signed = await this.signer.sign(
      {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      },
      { signingDate: this.now() },
    );
    const given = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
    const added: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      if (!given.has(name.toLowerCase())) added[name.toLowerCase()] = value;
    }
    return added;
  }
}
