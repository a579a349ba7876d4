import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface LocalServices {
  /** Comma-separated host:port list, as in KAFKA_BROKERS. */
  kafkaBrokers: string;
  /** redis://host:port, as in REDIS_URL. */
  redisUrl: string;
}

const servicesScript = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));

// The first `up` on a machine fetches the Kafka jars and then waits up to 90 s for the broker.
const upTimeoutMs = 300_000;

let started: Promise<LocalServices> | undefined;

/**
 * The Kafka brokers and Redis URL that *.kafka.test.ts and *.redis.test.ts run against:
 * KAFKA_BROKERS / REDIS_URL when both are set (CI exports them), otherwise the servers of
 * `scripts/services.sh up`, started at most once per process. The script serialises
 * concurrent callers itself, so parallel test workers share one Kafka and one Redis.
 */
export async function localServices(): Promise<LocalServices> {
  const kafkaFromEnv = process.env.KAFKA_BROKERS?.trim();
  const redisFromEnv = process.env.REDIS_URL?.trim();
  if (kafkaFromEnv && redisFromEnv) return { kafkaBrokers: kafkaFromEnv, redisUrl: redisFromEnv };
  // A failed start stays memoised: every later test fails at once with the same message
  // instead of each waiting out the script's timeout again.
  started ??= runServicesUp();
  const fromScript = await started;
  return {
    kafkaBrokers: kafkaFromEnv || fromScript.kafkaBrokers,
    redisUrl: redisFromEnv || fromScript.redisUrl,
  };
}

/**
 * A name no other test run uses, for Redis key prefixes, Kafka topics and consumer groups:
 * `<tag>-<12 hex chars>`, restricted to the characters Kafka allows in topic names.
 */
export function uniquePrefix(tag: string): string {
  const safeTag = tag.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100) || 'test';
  return `${safeTag}-${randomBytes(6).toString('hex')}`;
}

/** A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts itself. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function runServicesUp(): Promise<LocalServices> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [servicesScript, 'up'],
      { timeout: upTimeoutMs, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`scripts/services.sh up failed: ${err.message}\n${tail(stderr)}`));
          return;
        }
        try {
          resolve(parseServicesOutput(stdout));
        } catch (parseErr) {
          reject(parseErr);
        }
      },
    );
  });
}

function parseServicesOutput(stdout: string): LocalServices {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^(KAFKA_BROKERS|REDIS_URL)=(\S+)$/.exec(line.trim());
    if (match) values.set(match[1], match[2]);
  }
  const kafkaBrokers = values.get('KAFKA_BROKERS');
  const redisUrl = values.get('REDIS_URL');
  if (!kafkaBrokers || !redisUrl) {
    throw new Error(
      `scripts/services.sh up did not print KAFKA_BROKERS=... and REDIS_URL=...; it printed:\n${tail(stdout)}`,
    );
  }
  return { kafkaBrokers, redisUrl };
}

function tail(text: string): string {
  return text.split('\n').slice(-40).join('\n');
}
