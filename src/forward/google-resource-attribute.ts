import { ProtobufReader } from '../otlp/protobuf-reader.js';
import { varintSize, writeVarint } from '../otlp/varint-writer.js';

/** Tags of the fields walked; everything else is copied as it is. */
const RESOURCE_SPANS_TAG = 0x0a; // ExportTraceServiceRequest.resource_spans = 1
const RESOURCE_TAG = 0x0a; // ResourceSpans.resource = 1
const ATTRIBUTE_TAG = 0x0a; // Resource.attributes = 1
const KEY_TAG = 0x0a; // KeyValue.key = 1
const VALUE_TAG = 0x12; // KeyValue.value = 2
const STRING_VALUE_TAG = 0x0a; // AnyValue.string_value = 1

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Gives the resource of every ResourceSpans in an ExportTraceServiceRequest (protobuf) the
 * string attribute `key`, unless that resource already has one: the value the sender set
 * wins, as with the Collector's resource processor `insert` action. Nothing is decoded into
 * objects; only the changed Resource and ResourceSpans messages get new length prefixes, and
 * every other byte is copied in order. A request whose resources all have the key comes back
 * as it was. The input must be well-formed (batches from the buffer are); otherwise an
 * OtlpDecodeError is thrown.
 */
export function withResourceAttribute(request: Uint8Array, key: string, value: string): Uint8Array {
  const keyBytes = encoder.encode(key);
  const attribute = lengthDelimited(ATTRIBUTE_TAG, keyValue(keyBytes, encoder.encode(value)));
  const parts: Uint8Array[] = [];
  let changed = false;
  const r = new ProtobufReader(request);
  while (!r.atEnd()) {
    const at = r.pos;
    const t = r.tag();
    if (t !== RESOURCE_SPANS_TAG) {
      r.skipField(t & 7);
      parts.push(request.subarray(at, r.pos));
      continue;
    }
    const len = r.length();
    const resourceSpans = request.subarray(r.pos, r.pos + len);
    r.pos += len;
    const rewritten = addToResource(resourceSpans, key, attribute);
    if (rewritten === resourceSpans) {
      parts.push(request.subarray(at, r.pos));
    } else {
      parts.push(lengthDelimited(RESOURCE_SPANS_TAG, rewritten));
      changed = true;
    }
  }
  return changed ? Buffer.concat(parts) : request;
}

/** The ResourceSpans with `attribute` appended to its resource (one is made if it has none), or itself when the key is there. */
function addToResource(resourceSpans: Uint8Array, key: string, attribute: Uint8Array): Uint8Array {
  const r = new ProtobufReader(resourceSpans);
  // Protobuf merges repeated occurrences of a message field, so every Resource occurrence counts.
  const resources: { start: number; end: number; body: Uint8Array }[] = [];
  while (!r.atEnd()) {
    const start = r.pos;
    const t = r.tag();
    if (t === RESOURCE_TAG) {
      const len = r.length();
      const body = resourceSpans.subarray(r.pos, r.pos + len);
      r.pos += len;
      if (hasAttribute(body, key)) return resourceSpans;
      resources.push({ start, end: r.pos, body });
    } else {
      r.skipField(t & 7);
    }
  }
  if (resources.length === 0) return Buffer.concat([lengthDelimited(RESOURCE_TAG, attribute), resourceSpans]);
  const first = resources[0];
  return Buffer.concat([
    resourceSpans.subarray(0, first.start),
    lengthDelimited(RESOURCE_TAG, Buffer.concat([first.body, attribute])),
    resourceSpans.subarray(first.end),
  ]);
}

function hasAttribute(resource: Uint8Array, key: string): boolean {
  const r = new ProtobufReader(resource);
  while (!r.atEnd()) {
    const t = r.tag();
    if (t !== ATTRIBUTE_TAG) {
      r.skipField(t & 7);
      continue;
    }
    const outer = r.enter();
    let found: string | undefined;
    while (!r.atEnd()) {
      const ft = r.tag();
      if (ft === KEY_TAG) {
        const len = r.length();
        found = decoder.decode(resource.subarray(r.pos, r.pos + len));
        r.pos += len;
      } else {
        r.skipField(ft & 7);
      }
    }
    r.leave(outer);
    if (found === key) return true;
  }
  return false;
}

/** A KeyValue with a string value. */
function keyValue(key: Uint8Array, value: Uint8Array): Uint8Array {
  return Buffer.concat([lengthDelimited(KEY_TAG, key), lengthDelimited(VALUE_TAG, lengthDelimited(STRING_VALUE_TAG, value))]);
}

function lengthDelimited(tag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + varintSize(payload.length) + payload.length);
  out[0] = tag;
  const at = writeVarint(out, 1, payload.length);
  out.set(payload, at);
  return out;
}
