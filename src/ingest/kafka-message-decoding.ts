import type { OtlpDecodeError } from '../errors.js';
import { decodeJsonRequest, decodeProtobufRequest } from '../otlp/index.js';
import type { DecodedRequest, SpanView, TraceFragment } from '../otlp/types.js';
import type { FetchedRecord } from './kafka-group-consumer.js';

/** How record values are written, as the Collector's Kafka exporter names it (`traces::encoding`). */
export type KafkaEncoding = 'otlp_proto' | 'otlp_json';

/** Why a record could not be taken. */
export type PoisonReason =
  /** The value is not an ExportTraceServiceRequest in the topic's encoding. */
  | 'malformed'
  /** A tombstone: the record has no value at all. */
  | 'no_value';

export const POISON_REASONS: readonly PoisonReason[] = ['malformed', 'no_value'];

export interface PoisonRecord {
  readonly record: FetchedRecord;
  readonly reason: PoisonReason;
  /** What was wrong, for logs and a dead-letter header. */
  readonly detail: string;
}

export interface DecodedBatch {
  /** Every span of the batch's good records as one request, or undefined when none decoded. */
  readonly request: DecodedRequest | undefined;
  /** Records that decoded; the rest are in `poison`. */
  readonly decodedRecords: number;
  readonly poison: readonly PoisonRecord[];
}

/**
 * Decodes every record of a batch and merges the good ones into one request, so the buffer
 * takes a whole batch in one call (and a partition's offset can move past all of it at once).
 * Never throws: a record that does not decode is returned in `poison` with its reason.
 */
export function decodeKafkaBatch(records: readonly FetchedRecord[], encoding: KafkaEncoding): DecodedBatch {
  const requests: DecodedRequest[] = [];
  const poison: PoisonRecord[] = [];
  for (const record of records) {
    if (record.value === null) {
      poison.push({ record, reason: 'no_value', detail: 'record has no value (tombstone)' });
      continue;
    }
    const result = encoding === 'otlp_proto' ? decodeProtobufRequest(record.value) : decodeJsonRequest(record.value);
    if (result.ok) requests.push(result.value);
    else poison.push({ record, reason: 'malformed', detail: describe(result.error, encoding) });
  }
  return {
    request: requests.length === 0 ? undefined : mergeDecodedRequests(requests),
    decodedRecords: requests.length,
    poison,
  };
}

/**
 * One request holding every span of `parts`, in order. Fragments of one trace from several
 * parts stay separate fragments; the buffer appends them to the same trace.
 */
export function mergeDecodedRequests(parts: readonly DecodedRequest[]): DecodedRequest {
  if (parts.length === 1) return parts[0];
  // Plain loops: flatMap over a batch of large span arrays was a visible share of intake.
  let spanCount = 0;
  const spans: SpanView[] = [];
  const fragments: TraceFragment[] = [];
  for (const part of parts) {
    spanCount += part.spanCount;
    for (const span of part.spans) spans.push(span);
    for (const fragment of part.fragments) fragments.push(fragment);
  }
  return { spans, fragments, spanCount };
}

function describe(error: OtlpDecodeError, encoding: KafkaEncoding): string {
  return `not an ${encoding} ExportTraceServiceRequest: ${error.message}`;
}
