import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** What a file sink's output holds, read back span by span. */
export interface KeptFileContents {
  /** Span ids per trace id, as found in the file. */
  readonly spansByTrace: Map<string, Set<string>>;
  /** Distinct spans (trace id + span id). */
  readonly spans: number;
  /** Spans found more than once (a resent request). */
  readonly duplicateSpans: number;
  readonly lines: number;
}

interface JsonRequest {
  readonly resourceSpans?: readonly { readonly scopeSpans?: readonly { readonly spans?: readonly { traceId: string; spanId: string }[] }[] }[];
}

/** Reads a JSON Lines file of OTLP/JSON ExportTraceServiceRequests (the file sink's format); a missing file is empty. */
export async function readKeptFile(path: string): Promise<KeptFileContents> {
  const spansByTrace = new Map<string, Set<string>>();
  let spans = 0;
  let duplicateSpans = 0;
  let lines = 0;
  const stream = createReadStream(path, { encoding: 'utf8' });
  const opened = new Promise<boolean>((resolve, reject) => {
    stream.once('open', () => resolve(true));
    stream.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(false) : reject(err)));
  });
  if (!(await opened)) return { spansByTrace, spans, duplicateSpans, lines };
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
    if (line === '') continue;
    lines++;
    const request = JSON.parse(line) as JsonRequest;
    for (const rs of request.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          let ids = spansByTrace.get(span.traceId);
          if (ids === undefined) {
            ids = new Set();
            spansByTrace.set(span.traceId, ids);
          }
          if (ids.has(span.spanId)) {
            duplicateSpans++;
          } else {
            ids.add(span.spanId);
            spans++;
          }
        }
      }
    }
  }
  return { spansByTrace, spans, duplicateSpans, lines };
}

/** Reads the generator's manifest (one JSON line per trace): span count per trace id. */
export async function readManifestSpans(path: string): Promise<Map<string, number>> {
  const spansByTrace = new Map<string, number>();
  for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
    if (line === '') continue;
    const entry = JSON.parse(line) as { traceId: string; spans: number };
    spansByTrace.set(entry.traceId, entry.spans);
  }
  return spansByTrace;
}
