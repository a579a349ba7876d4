import type { DecodedRequest } from '../../src/otlp/types.js';
import { wallClock } from '../../src/clock.js';
import { MemoryTraceBuffer } from '../../src/buffer/memory/memory-trace-buffer.js';
import type { PendingCounts } from '../../src/buffer/trace-buffer.js';
import { DecisionLoop } from '../../src/decide/decision-loop.js';
import { FileSink } from '../../src/forward/file-sink.js';
import { OtlpHttpReceiver, type IntakeResult } from '../../src/ingest/otlp-http-receiver.js';
import { parsePolicyText, toCompletionSettings } from '../../src/policies/policy-file.js';
import { EngineStats } from '../../src/telemetry/engine-stats.js';
import { silentLogger } from '../../src/telemetry/logger.js';

export interface MemoryPipelineOptions {
  /** A policy file's text (the tail_sampling body). */
  readonly policyText: string;
  /** JSON Lines file the file sink appends kept traces to. */
  readonly sinkPath: string;
  /** Called as each trace's decision is recorded (see DecisionLoopOptions.onDecided). */
  readonly onDecided: (traceId: string, decidedAtMs: number, dueMs: number, keep: boolean) => void;
}

/**
 * The engine's OTLP/HTTP → memory buffer → decision loop → file sink path, wired from the same
 * parts `Engine.create` uses and with the same intake, in this process.
 *
 * Built here rather than through `Engine.create` because the engine takes its sinks only from
 * config and has no way to pass the decision loop's `onDecided` hook, which the benchmark needs
 * for per-trace delays. The admin server and status line, which the engine adds, do no work
 * per span.
 */
export class MemoryPipeline {
  readonly stats = new EngineStats();
  /** Wall-clock ms of the first and the last accepted request; undefined before the first. */
  firstIntakeMs: number | undefined;
  lastIntakeMs: number | undefined;
  private readonly buffer: MemoryTraceBuffer;
  private readonly sink: FileSink;
  private readonly loop: DecisionLoop;
  private readonly receiver: OtlpHttpReceiver;
  private running = false;

  constructor(options: MemoryPipelineOptions) {
    const loaded = parsePolicyText(options.policyText, 'pipeline-policies.yaml');
    if (!loaded.ok) throw new Error(`the pipeline's policy file is invalid:\n${loaded.problems.join('\n')}`);
    const { policySet } = loaded;
    this.buffer = new MemoryTraceBuffer(toCompletionSettings(loaded.settings));
    this.sink = new FileSink({ path: options.sinkPath });
    this.loop = new DecisionLoop({
      buffer: this.buffer,
      policies: () => policySet,
      sinks: [this.sink],
      clock: wallClock,
      stats: this.stats,
      logger: silentLogger,
      onDecided: options.onDecided,
    });
    this.receiver = new OtlpHttpReceiver({
      host: '127.0.0.1',
      port: 0,
      intake: (decoded) => this.intake(decoded),
      logger: silentLogger,
    });
  }

  /** Starts the decision loop and the receiver; resolves with the receiver's base URL. */
  async start(): Promise<string> {
    this.running = true;
    this.loop.start();
    const { host, port } = await this.receiver.start();
    return `http://${host}:${port}`;
  }

  pending(): Promise<PendingCounts> {
    return this.buffer.pending();
  }

  /** Requests the receiver refused, by reason (the generator retries throttled ones). */
  rejectedRequests(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.receiver.counters().rejected).filter(([, n]) => n > 0));
  }

  /** Stops intake and the loop, decides whatever is left, closes the sink. Returns the traces left undecided. */
  async stop(): Promise<number> {
    this.running = false;
    await this.receiver.stop();
    await this.loop.stop();
    const { left } = await this.loop.drain();
    await this.sink.close();
    await this.buffer.close();
    return left;
  }

  /** The same hand-off as `Engine.intake`, plus the intake times for the wall-clock rate. */
  private async intake(decoded: DecodedRequest): Promise<IntakeResult> {
    if (!this.running) return { status: 'full', retryAfterMs: 1_000, reason: 'shutting down' };
    const nowMs = wallClock.now();
    const outcome = await this.buffer.append(decoded.fragments, nowMs);
    if (outcome.status === 'full') {
      this.stats.count(this.stats.spansRejected, 'buffer_full', decoded.spanCount);
      return outcome;
    }
    this.stats.spansReceived += decoded.spanCount;
    this.stats.requestsAccepted++;
    this.firstIntakeMs ??= nowMs;
    this.lastIntakeMs = nowMs;
    if (outcome.late.length > 0) this.loop.acceptLate(outcome.late);
    return { status: 'accepted' };
  }
}
