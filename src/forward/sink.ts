/**
 * A destination for kept traces. `send` resolves once the destination accepted the whole
 * batch and rejects with a SinkError (whose `retriable` flag tells the caller whether trying
 * again can help). Sinks do their own retries with backoff within `send`; the decision loop
 * only sees the final outcome and keeps the traces buffered until every sink accepted them.
 */
export interface TraceSink {
  readonly name: string;
  send(batch: KeptBatch): Promise<void>;
  /** Flush buffered output and release resources. Idempotent. */
  close(): Promise<void>;
  /**
   * Kept traces this sink held back because its destination would refuse them, by reason
   * (each also logged with its trace id); for sinks that check traces before sending.
   */
  rejectedTraces?(): ReadonlyMap<string, number>;
}

export interface KeptBatch {
  /** An ExportTraceServiceRequest in protobuf holding whole kept traces. */
  readonly request: Uint8Array;
  readonly traceCount: number;
  readonly spanCount: number;
  /**
   * The same spans by trace, when the batch was built from per-trace fragments (the decision
   * loop's batches are): sinks that send one trace at a time take these instead of decoding
   * `request` again to split it. Each trace id appears once; together they hold exactly the
   * spans of `request`, late spans of already decided traces included.
   */
  readonly traces?: readonly KeptTrace[];
}

/** One trace of a kept batch. */
export interface KeptTrace {
  /** 32 lowercase hex characters. */
  readonly traceId: string;
  /** Runs of ExportTraceServiceRequest.resource_spans fields; their concatenation is a request holding the trace's spans of the batch. */
  readonly fragments: readonly Uint8Array[];
  readonly spanCount: number;
}
