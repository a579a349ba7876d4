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
}

export interface KeptBatch {
  /** An ExportTraceServiceRequest in protobuf holding whole kept traces. */
  readonly request: Uint8Array;
  readonly traceCount: number;
  readonly spanCount: number;
}
