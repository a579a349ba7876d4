/** The OTLP stage: selective protobuf decoding, trace grouping, byte re-wrap, OTLP/JSON. */
export type {
  AttrValue,
  DecodeResult,
  DecodedRequest,
  SpanEventView,
  SpanView,
  TraceFragment,
} from './types.js';
export { decodeProtobufRequest, decodeProtobufSpans, type DecodeOptions } from './decode-protobuf.js';
export {
  decodeJsonRequest,
  jsonRequestToProtobuf,
  protobufRequestToJson,
  type OtlpJsonAnyValue,
  type OtlpJsonDouble,
  type OtlpJsonEvent,
  type OtlpJsonKeyValue,
  type OtlpJsonLink,
  type OtlpJsonRequest,
  type OtlpJsonResource,
  type OtlpJsonResourceSpans,
  type OtlpJsonScope,
  type OtlpJsonScopeSpans,
  type OtlpJsonSpan,
} from './otlp-json.js';
export { protobufRequestToJsonBytes, protobufRequestToJsonText } from './otlp-json-text.js';
export { concatRequests } from './concat.js';
export { ProtobufSpanView } from './span-view.js';
export { MAX_ANY_VALUE_DEPTH } from './wire-validation.js';
