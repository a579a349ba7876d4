import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { formatDuration } from '../config/duration.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { splitPolicyPath } from './collector-config.js';
import type { PolicySet } from './evaluator.js';
import type { EvaluatorContext } from './create-evaluator.js';
import { parsePolicyText } from './policy-file.js';
import type { PolicySettings } from './policy-file.js';

export interface PolicyWatcherOptions {
  /** The policy file (or Collector config, optionally `FILE#tail_sampling/name`) to load and watch. */
  readonly path: string;
  readonly logger: Logger;
  /** Called after every reload attempt, valid or not (metrics, tests). */
  readonly onReload?: (outcome: ReloadOutcome) => void;
  /** Quiet time after the last change before the file is read, ms. Default 200. */
  readonly debounceMs?: number;
  /** What the policies are built with (the engine's baselines stage, for `anomaly`). */
  readonly context?: EvaluatorContext;
}

export type ReloadOutcome =
  | {
      readonly ok: true;
      readonly policySet: PolicySet;
      /** Settings that changed but only take effect on restart, e.g. `decision_wait`. */
      readonly restartNeeded: readonly string[];
    }
  | { readonly ok: false; readonly problems: readonly string[] };

export interface ReloadCounters {
  /** Valid changes that replaced the policies. */
  readonly reloads: number;
  /** Changes that did not validate (the policies before them stayed in effect). */
  readonly failures: number;
}

/**
 * Settings the trace buffer and the engine were built with. A new value in the file is
 * reported and waits for a restart: the buffer holds traces that were timed and counted
 * with the old ones.
 */
const RESTART_SETTINGS: readonly { key: keyof PolicySettings; name: string; show: (value: unknown) => string }[] = [
  { key: 'decisionWaitMs', name: 'decision_wait', show: showDuration },
  { key: 'decisionWaitAfterRootMs', name: 'decision_wait_after_root_received', show: showDuration },
  { key: 'numTraces', name: 'num_traces', show: String },
  { key: 'maxSpansPerTrace', name: 'max_spans_per_trace', show: String },
  { key: 'sampledCacheSize', name: 'decision_cache.sampled_cache_size', show: String },
  { key: 'nonSampledCacheSize', name: 'decision_cache.non_sampled_cache_size', show: String },
  { key: 'dropPendingTracesOnShutdown', name: 'drop_pending_traces_on_shutdown', show: String },
];

/**
 * Keeps the policies of a file current while the engine runs.
 *
 * The folder is watched rather than the file, because editors save by writing a new file and
 * renaming it over the old one, which ends a watch on the file itself. Changes are debounced,
 * then the file is validated in full: a valid file replaces the policy set (traces decided
 * after that use it); an invalid one is logged, one line per problem, and counted, and the
 * policies before it stay in effect. A file saved again with the same content is not reloaded,
 * so stateful policies (rate limits, dynamic sample rates) keep their state and a broken file
 * is reported once.
 */
export class PolicyWatcher {
  private readonly filePath: string;
  /** `tail_sampling/<name>` from `FILE#tail_sampling/<name>`, for a Collector config with several. */
  private readonly processor: string | undefined;
  private readonly debounceMs: number;
  private policySet: PolicySet | undefined;
  private startSettings: PolicySettings | undefined;
  private latestSettings: PolicySettings | undefined;
  /** The text last read, valid or not: an unchanged file is not validated (or reported) again. */
  private lastText: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Reloads run one after another; a change during a reload is read after it. */
  private chain: Promise<void> = Promise.resolve();
  private reloadCount = 0;
  private failureCount = 0;
  private stopped = false;
  private starting: Promise<void> | undefined;

  constructor(private readonly options: PolicyWatcherOptions) {
    const { file, processor } = splitPolicyPath(options.path);
    this.filePath = file;
    this.processor = processor;
    this.debounceMs = options.debounceMs ?? 200;
  }

  /**
   * Loads the file and starts watching. Idempotent; a stopped watcher does not start again.
   * @throws ConfigError with the problems of an invalid file.
   */
  start(): Promise<void> {
    this.starting ??= this.load();
    return this.starting;
  }

  private async load(): Promise<void> {
    const text = await this.read();
    if (typeof text !== 'string') throw new ConfigError(text.problems);
    const result = parsePolicyText(text, this.filePath, this.processor, this.options.context);
    if (!result.ok) throw new ConfigError(result.problems);
    this.policySet = result.policySet;
    this.startSettings = result.settings;
    this.latestSettings = result.settings;
    this.lastText = text;
    if (this.stopped) return;
    const name = basename(this.filePath);
    this.watcher = watch(dirname(this.filePath), { persistent: false }, (_event, changed) => {
      // Some platforms do not say which file changed: reading ours again is the safe side.
      // A Kubernetes ConfigMap volume changes none of its files' names: it swaps a `..data`
      // link to a new folder, so changes to `..` entries are ours too.
      if (changed === null || changed === name || changed.startsWith('..')) this.schedule();
    });
    this.watcher.on('error', (err) => this.options.logger.error({ err, path: this.options.path }, 'cannot watch the policy file any more; restart to pick up changes'));
  }

  /** Stops watching and waits for a reload in progress. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await this.chain;
  }

  /** The policies in effect. */
  current(): PolicySet {
    if (this.policySet === undefined) throw new Error('PolicyWatcher.current() called before start()');
    return this.policySet;
  }

  /**
   * The settings in effect: `sample_on_first_match` and `maximum_trace_size_bytes` from the
   * latest valid file (they belong to the policy set); the rest as loaded at start.
   */
  settings(): PolicySettings {
    if (this.startSettings === undefined || this.latestSettings === undefined) throw new Error('PolicyWatcher.settings() called before start()');
    return {
      ...this.startSettings,
      sampleOnFirstMatch: this.latestSettings.sampleOnFirstMatch,
      maximumTraceSizeBytes: this.latestSettings.maximumTraceSizeBytes,
    };
  }

  counters(): ReloadCounters {
    return { reloads: this.reloadCount, failures: this.failureCount };
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.chain = this.chain.then(() => this.reload());
    }, this.debounceMs);
  }

  private async reload(): Promise<void> {
    if (this.stopped) return;
    let text = await this.read();
    // Saving in place truncates the file before writing it: an empty read is most likely the
    // middle of a save, so it is read once more before it counts as a broken file.
    if (text === '') text = await delay(this.debounceMs).then(() => this.read());
    if (typeof text === 'string' && text === this.lastText) return;
    this.lastText = typeof text === 'string' ? text : undefined;
    const result = typeof text === 'string' ? parsePolicyText(text, this.filePath, this.processor, this.options.context) : text;
    const { logger, path } = this.options;
    if (!result.ok) {
      this.failureCount++;
      for (const problem of result.problems) logger.error({ path }, problem);
      logger.warn({ path, problems: result.problems.length }, 'policy file not reloaded; the policies loaded before stay in effect');
      this.options.onReload?.({ ok: false, problems: result.problems });
      return;
    }
    const restartNeeded = this.changedRestartSettings(result.settings);
    this.policySet = result.policySet;
    this.latestSettings = result.settings;
    this.reloadCount++;
    logger.info({ path, policies: result.policySet.policyNames }, 'policy file reloaded; traces decided from now on use it');
    this.options.onReload?.({ ok: true, policySet: result.policySet, restartNeeded });
  }

  /** Restart-only settings whose new value differs from the one in effect; each logged. */
  private changedRestartSettings(next: PolicySettings): string[] {
    const inEffect = this.startSettings as PolicySettings;
    const previous = this.latestSettings as PolicySettings;
    const changed: string[] = [];
    for (const setting of RESTART_SETTINGS) {
      if (next[setting.key] === inEffect[setting.key]) continue;
      changed.push(setting.name);
      // Said once per new value, not on every reload that keeps it.
      if (next[setting.key] === previous[setting.key]) continue;
      this.options.logger.warn(
        { path: this.options.path, setting: setting.name },
        `${setting.name} changed from ${setting.show(inEffect[setting.key])} to ${setting.show(next[setting.key])}; it takes effect on restart (the trace buffer was set up with the old value)`,
      );
    }
    return changed;
  }

  private async read(): Promise<string | { ok: false; problems: readonly string[] }> {
    try {
      return await readFile(this.filePath, 'utf8');
    } catch (err) {
      const code = (err as { code?: string }).code;
      const reason = code === 'ENOENT' ? 'no such file' : (err as Error).message;
      return { ok: false, problems: [`${this.filePath}:1:1: (file): cannot read file: ${reason}`] };
    }
  }
}

function showDuration(value: unknown): string {
  return typeof value === 'number' ? formatDuration(value) : 'off';
}
