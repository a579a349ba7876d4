import { open, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ReplayInputError } from './replay-errors.js';

/** One file to replay, in the order replay reads it. */
export interface InputFile {
  readonly path: string;
  /** Size on disk (compressed when gzip), for progress. */
  readonly size: number;
}

export type InputFormat = 'otlp-json-lines' | 'otlp-protobuf';

const JSON_EXTENSIONS = ['.jsonl', '.ndjson', '.json'];
const PROTOBUF_EXTENSIONS = ['.pb', '.binpb', '.bin', '.protobuf', '.otlp'];

/**
 * Files found in a directory are replayed only when their name says they are OTLP, so that a
 * manifest, a README or a report lying next to the captures is not mistaken for traffic; a
 * file named on the command line is always read.
 */
const CAPTURE_NAME = new RegExp(`(${[...JSON_EXTENSIONS, ...PROTOBUF_EXTENSIONS].map((e) => `\\${e}`).join('|')})(\\.gz)?$`, 'i');

/** The generator's `--manifest` is JSON lines too, but describes traces instead of carrying them. */
const NOT_CAPTURES = /\.manifest\.jsonl?(\.gz)?$/i;

/**
 * Expands the `--input` paths: files as given, directories recursively with their entries
 * sorted by path (code point order, so the order does not depend on the locale), hidden
 * entries skipped. Replay reads them in this order, which should be time order.
 * @throws ReplayInputError for a path that does not exist or a directory without captures.
 */
export async function listInputFiles(paths: readonly string[]): Promise<InputFile[]> {
  const out: InputFile[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (err) {
      throw new ReplayInputError(`${path}: ${describeIoError(err)}`);
    }
    if (info.isDirectory()) {
      const found = await listDirectory(path);
      if (found.length === 0) {
        throw new ReplayInputError(
          `${path}: no OTLP files in this directory (looked for ${[...JSON_EXTENSIONS, ...PROTOBUF_EXTENSIONS].join(', ')}, optionally .gz)`,
        );
      }
      out.push(...found);
    } else {
      out.push({ path, size: info.size });
    }
  }
  return out;
}

async function listDirectory(root: string): Promise<InputFile[]> {
  const found: { rel: string; file: InputFile }[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && CAPTURE_NAME.test(entry.name) && !NOT_CAPTURES.test(entry.name)) {
        found.push({ rel: relative(root, full), file: { path: full, size: (await stat(full)).size } });
      }
    }
  };
  await walk(root);
  found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return found.map((f) => f.file);
}

/** True when the file starts with the gzip magic bytes (whatever its name says). */
export async function isGzipFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * The format of a (decompressed) file. The name decides when it has a known extension;
 * otherwise the content: OTLP/JSON starts with `{` (after an optional byte order mark), which
 * no ExportTraceServiceRequest can (0x7b would be field 15 as a group).
 */
export function detectFormat(path: string, head: Uint8Array): InputFormat {
  const name = path.toLowerCase().replace(/\.gz$/, '');
  if (JSON_EXTENSIONS.some((e) => name.endsWith(e))) return 'otlp-json-lines';
  if (PROTOBUF_EXTENSIONS.some((e) => name.endsWith(e))) return 'otlp-protobuf';
  let at = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) at = 3;
  return head[at] === 0x7b ? 'otlp-json-lines' : 'otlp-protobuf';
}

export function describeIoError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}
