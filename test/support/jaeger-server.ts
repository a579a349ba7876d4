import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, hostname, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { freePort } from './services.js';

/**
 * A real Jaeger v2 all-in-one for tests, built from its Go module with the machine's Go.
 *
 * Jaeger tags every release twice (v1.x.y and v2.x.y) on one commit, but its go.mod has no
 * `/v2` suffix, so the Go module proxy serves only the v1 tags as module versions: v1.76.0
 * is the source of Jaeger v2.13.0, whose `cmd/jaeger` is the v2 binary. Its go.mod carries a
 * `replace` directive, which `go install pkg@version` refuses; so the module is downloaded
 * (verified against the checksum database) and built in place, where its own go.mod and
 * go.sum pin every dependency.
 */
export const JAEGER_VERSION = '2.13.0';
export const JAEGER_MODULE = 'github.com/jaegertracing/jaeger';
export const JAEGER_MODULE_VERSION = 'v1.76.0';

/** The cached binary: built once per machine, reused by every later run. */
export const jaegerCacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tailsift', `jaeger-${JAEGER_VERSION}`);
export const jaegerBinaryPath = join(jaegerCacheDir, 'jaeger');

/**
 * The first build downloads a few hundred modules and compiles well over a thousand packages: about
 * 6 CPU-minutes, which took 21 minutes on a 2-core machine busy with other work.
 */
export const JAEGER_BUILD_LIMIT_MS = 30 * 60_000;
const DOWNLOAD_LIMIT_MS = 5 * 60_000;
const STARTUP_LIMIT_MS = 60_000;
// A started server stops by itself after this long, whatever happens to the test process.
const DEFAULT_LIFETIME_MS = 10 * 60_000;

function progress(message: string): void {
  process.stderr.write(`jaeger: ${message}\n`);
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** `go` from GOROOT or PATH, else the official tarball's place (a CI PATH may lack it). */
async function findGo(): Promise<string> {
  const dirs = [
    ...(process.env.GOROOT ? [join(process.env.GOROOT, 'bin')] : []),
    ...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''),
    '/usr/local/go/bin',
  ];
  for (const dir of dirs) {
    const candidate = join(dir, 'go');
    if (await isExecutable(candidate)) return candidate;
  }
  throw new Error(
    `cannot build Jaeger ${JAEGER_VERSION}: no Go toolchain found (looked for "go" in ${dirs.join(', ')}); ` +
      'install Go (https://go.dev/dl/) into /usr/local/go or put it on PATH',
  );
}

const TIMEOUT_COMMAND = '/usr/bin/timeout';

/**
 * The command line that runs `command` for at most `limitMs`. coreutils `timeout` ends it (and
 * everything in its process group) even when this process dies first and its timers with it.
 */
function bounded(command: string, args: readonly string[], limitMs: number): [string, string[]] {
  if (!existsSync(TIMEOUT_COMMAND)) return [command, [...args]];
  return [TIMEOUT_COMMAND, ['--kill-after=10s', `${Math.ceil(limitMs / 1000)}s`, command, ...args]];
}

interface GoRun {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs one go command in its own process group, so a timeout also ends the compilers it
 * started. `onLine` sees each stderr line as it comes (go reports downloads there).
 */
function runGo(go: string, args: readonly string[], options: { cwd: string; timeoutMs: number; onLine?: (line: string) => void }): Promise<GoRun> {
  return new Promise((resolve, reject) => {
    const [file, argv] = bounded(go, args, options.timeoutMs);
    const child = spawn(file, argv, {
      cwd: options.cwd,
      // GOFLAGS from the caller's shell could ask for a vendor dir or a go.mod rewrite;
      // GOWORK=off keeps a go.work above the cache from joining the build.
      env: { ...process.env, GO111MODULE: 'on', GOWORK: 'off', GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stderr = (stderr + text).slice(-64 * 1024);
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        options.onLine?.(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, options.timeoutMs);
    const command = `go ${args.join(' ')}`;
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${go}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ stdout, stderr });
      // 124: `timeout` ended it.
      const why = timedOut || code === 124 ? `did not finish within ${options.timeoutMs / 1000} s` : `exited with ${signal ?? code}`;
      reject(new Error(`${command} (in ${options.cwd}) ${why}; its last output:\n${lastLines(stderr || stdout, 25)}`));
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function lastLines(text: string, n: number): string {
  return text.split('\n').filter((l) => l.trim() !== '').slice(-n).join('\n');
}

async function buildJaeger(): Promise<void> {
  const go = await findGo();
  const started = Date.now();
  let downloads = 0;
  const onLine = (line: string): void => {
    if (line.startsWith('go: downloading')) downloads++;
  };
  progress(`building Jaeger ${JAEGER_VERSION} (${JAEGER_MODULE}@${JAEGER_MODULE_VERSION}, cmd/jaeger) with ${go} into ${jaegerBinaryPath}; the first build takes minutes`);
  const heartbeat = setInterval(() => {
    progress(`still building after ${Math.round((Date.now() - started) / 1000)} s (${downloads} modules downloaded so far)`);
  }, 30_000);
  heartbeat.unref();
  const output = join(jaegerCacheDir, `.jaeger-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    // Outside any module, so nothing here decides the dependency versions but Jaeger's go.mod.
    const download = await runGo(go, ['mod', 'download', '-json', `${JAEGER_MODULE}@${JAEGER_MODULE_VERSION}`], {
      cwd: jaegerCacheDir,
      timeoutMs: DOWNLOAD_LIMIT_MS,
      onLine,
    });
    const info = JSON.parse(download.stdout) as { Dir?: string; Error?: string };
    if (info.Dir === undefined) throw new Error(`go mod download ${JAEGER_MODULE}@${JAEGER_MODULE_VERSION} gave no directory: ${info.Error ?? download.stdout}`);
    progress(`module source in ${info.Dir}; compiling`);
    const remaining = JAEGER_BUILD_LIMIT_MS - (Date.now() - started);
    await runGo(go, ['build', '-trimpath', '-ldflags=-s -w', '-o', output, './cmd/jaeger'], { cwd: info.Dir, timeoutMs: remaining, onLine });
    // Readers only ever see a complete binary at the final path.
    await rename(output, jaegerBinaryPath);
    progress(`built ${jaegerBinaryPath} in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (err) {
    await rm(output, { force: true });
    throw new Error(`cannot build Jaeger ${JAEGER_VERSION} from ${JAEGER_MODULE}@${JAEGER_MODULE_VERSION}: ${(err as Error).message}`);
  } finally {
    clearInterval(heartbeat);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the build lock (a directory: mkdir is atomic), so test files starting at once build
 * once; the others wait for the binary. A lock whose owner died on this host is taken over.
 */
async function withBuildLock(build: () => Promise<void>): Promise<void> {
  const lock = join(jaegerCacheDir, 'build.lock');
  const owner = join(lock, 'owner');
  const deadline = Date.now() + JAEGER_BUILD_LIMIT_MS + 60_000;
  let waiting = false;
  for (;;) {
    if (await isExecutable(jaegerBinaryPath)) return;
    try {
      await mkdir(lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [host, pid] = (await readFile(owner, 'utf8').catch(() => '')).split(' ');
      if (host === hostname() && pid !== undefined && !isAlive(Number(pid))) {
        progress(`removing the build lock of process ${pid}, which is gone`);
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`cannot build Jaeger ${JAEGER_VERSION}: ${lock} is still held (by ${host ?? '?'} ${pid ?? '?'}) and no binary appeared at ${jaegerBinaryPath}`);
      if (!waiting) progress(`another process is building Jaeger (${lock}); waiting for it`);
      waiting = true;
      await sleep(2_000);
      continue;
    }
    try {
      await writeFile(owner, `${hostname()} ${process.pid}`);
      if (!(await isExecutable(jaegerBinaryPath))) await build();
      return;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

let binary: Promise<string> | undefined;

/** The Jaeger v2 binary, built on first use; rejects with the reason when it cannot be built. */
export function jaegerBinary(): Promise<string> {
  binary ??= (async () => {
    await mkdir(jaegerCacheDir, { recursive: true });
    await withBuildLock(buildJaeger);
    return jaegerBinaryPath;
  })();
  // A failed build stays remembered: later callers in this process fail at once with the
  // same reason instead of waiting out another build.
  return binary;
}

/** A `kafka` receiver, as Jaeger's Kafka ingester deployment configures it. */
export interface JaegerKafkaReceiver {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  readonly encoding?: 'otlp_proto' | 'otlp_json';
}

export interface StartJaegerOptions {
  /** Also read spans from Kafka. The OTLP/HTTP receiver is always on. */
  readonly kafka?: JaegerKafkaReceiver;
  /** The server stops by itself after this long. Default 10 min. */
  readonly lifetimeMs?: number;
}

export interface JaegerServer {
  /** Base URL of the OTLP/HTTP receiver (POST `${otlpHttpUrl}/v1/traces`). */
  readonly otlpHttpUrl: string;
  /** Base URL of the query service (`/api/v3/traces/{id}`, `/api/traces/{id}`, the UI). */
  readonly queryUrl: string;
  /** The last lines Jaeger logged, for failure messages. */
  logTail(): string;
  /** SIGTERM, then SIGKILL after 10 s; idempotent. */
  stop(): Promise<void>;
}

/** The all-in-one config: memory storage, an OTLP/HTTP receiver, the query API, all on loopback. */
function jaegerConfig(ports: { otlpHttp: number; queryHttp: number; queryGrpc: number; health: number }, kafka: JaegerKafkaReceiver | undefined): string {
  const receivers: Record<string, unknown> = { otlp: { protocols: { http: { endpoint: `127.0.0.1:${ports.otlpHttp}` } } } };
  if (kafka !== undefined) {
    receivers.kafka = {
      brokers: kafka.brokers,
      traces: { topic: kafka.topic, encoding: kafka.encoding ?? 'otlp_proto' },
      group_id: kafka.groupId,
      client_id: kafka.groupId,
      // The group is new, and the topic may hold records written before Jaeger joined.
      initial_offset: 'earliest',
    };
  }
  return stringify({
    service: {
      extensions: ['jaeger_storage', 'jaeger_query', 'healthcheckv2'],
      pipelines: { traces: { receivers: Object.keys(receivers), exporters: ['jaeger_storage_exporter'] } },
      // Level none: no internal metrics server on the fixed port 8888.
      telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
    },
    extensions: {
      healthcheckv2: { use_v2: true, http: { endpoint: `127.0.0.1:${ports.health}` } },
      jaeger_query: {
        storage: { traces: 'memstore' },
        http: { endpoint: `127.0.0.1:${ports.queryHttp}` },
        grpc: { endpoint: `127.0.0.1:${ports.queryGrpc}` },
      },
      jaeger_storage: { backends: { memstore: { memory: { max_traces: 10_000 } } } },
    },
    receivers,
    exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Builds Jaeger when needed, starts it on free loopback ports and waits until it answers. */
export async function startJaeger(options: StartJaegerOptions = {}): Promise<JaegerServer> {
  const jaeger = await jaegerBinary();
  const ports = { otlpHttp: await freePort(), queryHttp: await freePort(), queryGrpc: await freePort(), health: await freePort() };
  const dir = await mkdtemp(join(tmpdir(), 'tailsift-jaeger-'));
  const configPath = join(dir, 'jaeger.yaml');
  const config = jaegerConfig(ports, options.kafka);
  await writeFile(configPath, config);

  const log: string[] = [];
  const keep = (chunk: Buffer): void => {
    log.push(...chunk.toString().split('\n').filter((l) => l.trim() !== ''));
    if (log.length > 60) log.splice(0, log.length - 60);
  };
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_LIFETIME_MS;
  const [file, argv] = bounded(jaeger, ['--config', configPath], lifetimeMs);
  const child = spawn(file, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: lifetimeMs, detached: true });
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = `exited with ${signal ?? code}`;
      resolve();
    });
    child.once('error', (err) => {
      exit = `could not start ${jaeger}: ${err.message}`;
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (exit === undefined) child.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped) {
        killGroup(child, 'SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    })());
  const logTail = (): string => log.slice(-20).join('\n');

  const server: JaegerServer = {
    otlpHttpUrl: `http://127.0.0.1:${ports.otlpHttp}`,
    queryUrl: `http://127.0.0.1:${ports.queryHttp}`,
    logTail,
    stop,
  };
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  while (Date.now() < deadline && exit === undefined) {
    if ((await answers(`http://127.0.0.1:${ports.health}/status`)) && (await answers(`${server.queryUrl}/api/services`))) return server;
    await sleep(250);
  }
  await stop();
  throw new Error(
    `Jaeger ${JAEGER_VERSION} (${jaeger}) did not become healthy: ${exit ?? `no healthy /status and /api/services within ${STARTUP_LIMIT_MS} ms`}; ` +
      `its config:\n${config}\nits last log lines:\n${logTail()}`,
  );
}
