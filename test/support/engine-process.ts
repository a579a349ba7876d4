import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const cliPath = fileURLToPath(new URL('../../bin/tailsift.js', import.meta.url));

export interface RunningEngine {
  readonly child: ChildProcess;
  /** Base URL of the OTLP/HTTP receiver, e.g. http://127.0.0.1:43123 */
  readonly receiverUrl: string;
  readonly adminUrl: string;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Everything written to stderr so far, as written. */
  stderr(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `tailsift run --config FILE` as a child process and waits until it listens. */
export async function startEngine(
  configPath: string,
  options: { cwd?: string; timeoutMs?: number; env?: Readonly<Record<string, string>> } = {},
): Promise<RunningEngine> {
  const child = spawn(process.execPath, [cliPath, 'run', '--config', configPath], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, TAILSIFT_LOG_FORMAT: 'json', TAILSIFT_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderrText = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const started = new Promise<{ receiver: string; admin: string }>((resolve, reject) => {
    let buf = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderrText += chunk.toString();
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'tailsift running') {
            resolve({ receiver: String(entry.source).replace(/\/v1\/traces$/, ''), admin: String(entry.admin) });
          }
        } catch {
          // not a log line (e.g. a config problem printed plainly)
        }
      }
    });
    void exited.then((code) => reject(new Error(`tailsift exited with ${code} before it was ready:\n${stderrText}`)));
    setTimeout(() => reject(new Error(`tailsift did not start within the time limit:\n${stderrText}`)), options.timeoutMs ?? 20_000).unref();
  });

  const { receiver, admin } = await started;
  return {
    child,
    receiverUrl: receiver,
    adminUrl: admin,
    logs,
    stderr: () => stderrText,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
