/**
 * Joins ExportTraceServiceRequest messages (or fragments, which are runs of its
 * resource_spans field) into one request. Protobuf concatenation merges messages and
 * `resource_spans` is repeated, so plain byte concatenation is the exact merge: nothing is
 * decoded or re-encoded.
 */
export function concatRequests(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
