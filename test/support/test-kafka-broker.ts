import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './services.js';

const servicesScript = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));

/**
 * A single-node Kafka of a test's own (never the shared broker other tests use), started with
 * `scripts/services.sh` on free loopback ports in a temp state dir, for tests that stop or
 * crash the broker. It runs under KAFKA_LIFETIME, so it ends by itself if a test dies.
 */
export interface TestKafkaBroker {
  /** `host:port`, as in KAFKA_BROKERS. */
  readonly brokers: string;
  /** `host:port` of the SASL_PLAINTEXT listener, when started with `sasl`. */
  readonly saslBrokers?: string;
  /** `host:port` of the SSL (TLS) listener, when started with `tls`. */
  readonly tlsBrokers?: string;
  /** Stops the broker: SIGTERM (a clean shutdown) or SIGKILL (a crash). Its data stays. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same ports and data, and waits until it serves groups. */
  start(): Promise<void>;
  /** Stops it and removes its state dir. */
  dispose(): Promise<void>;
}

export interface TestKafkaBrokerOptions {
  readonly lifetimeSeconds?: number;
  /**
   * Adds a SASL_PLAINTEXT listener taking PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for this one
   * user (letters, digits, - and _), beside the PLAINTEXT one tests use to set up topics.
   */
  readonly sasl?: { readonly username: string; readonly password: string };
  /**
   * Adds an SSL listener with this PEM certificate and unencrypted key; with `clientCa`,
   * clients must present a certificate that CA signed.
   */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
}

export async function startTestKafkaBroker(options: TestKafkaBrokerOptions = {}): Promise<TestKafkaBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'tailsift-kafka-'));
  const saslPort = options.sasl === undefined ? undefined : await freePort();
  const tlsPort = options.tls === undefined ? undefined : await freePort();
  const env = {
    ...process.env,
    TAILSIFT_SERVICES_DIR: dir,
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    KAFKA_LIFETIME: String(options.lifetimeSeconds ?? 300),
    // A smaller heap than the shared broker's: this one holds a few test topics for minutes.
    KAFKA_HEAP_OPTS: process.env.KAFKA_HEAP_OPTS ?? '-Xms64m -Xmx256m',
    ...(options.sasl === undefined
      ? {}
      : { KAFKA_SASL_PORT: String(saslPort), KAFKA_SASL_USERNAME: options.sasl.username, KAFKA_SASL_PASSWORD: options.sasl.password }),
    ...(options.tls === undefined
      ? {}
      : {
          KAFKA_SSL_PORT: String(tlsPort),
          KAFKA_SSL_CERT: options.tls.cert,
          KAFKA_SSL_KEY: options.tls.key,
          ...(options.tls.clientCa === undefined ? {} : { KAFKA_SSL_CLIENT_CA: options.tls.clientCa }),
        }),
  };
  const run = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile('bash', [servicesScript, ...args], { env, timeout: 180_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`scripts/services.sh ${args.join(' ')} failed: ${err.message}\n${stderr.split('\n').slice(-30).join('\n')}`));
        else resolve(stdout);
      });
    });
  const up = async (): Promise<string> => {
    const match = /^KAFKA_BROKERS=(\S+)$/m.exec(await run('up', 'kafka'));
    if (match === null) throw new Error('scripts/services.sh up kafka did not print KAFKA_BROKERS=...');
    return match[1];
  };
  let brokers: string;
  try {
    brokers = await up();
  } catch (err) {
    await run('down', 'kafka').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    brokers,
    ...(saslPort === undefined ? {} : { saslBrokers: `127.0.0.1:${saslPort}` }),
    ...(tlsPort === undefined ? {} : { tlsBrokers: `127.0.0.1:${tlsPort}` }),
    async stop(signal = 'SIGTERM') {
      await run(signal === 'SIGKILL' ? 'kill' : 'down', 'kafka');
    },
    async start() {
      await up();
    },
    async dispose() {
      await run('down', 'kafka').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

