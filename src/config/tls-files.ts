import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';

/** PEM files of a TLS client, as the config's `tls` blocks give them (Kafka, Redis, HTTP sinks). */
export interface TlsFiles {
  /** Certificate authorities to trust instead of the system ones. */
  readonly ca?: string;
  /** This client's certificate, for servers that ask for one (mutual TLS); with `key`. */
  readonly cert?: string;
  readonly key?: string;
  /** Refuse a server certificate that does not verify. Default true. */
  readonly rejectUnauthorized?: boolean;
}

/**
 * Node's TLS options with the files read. `setting` names the config key the files came from
 * (e.g. `buffer.tls`); a file that cannot be read is a ConfigError naming `<setting>.<file>`.
 */
export function tlsConnectionOptions(files: TlsFiles, setting: string): ConnectionOptions {
  const read = (name: 'ca' | 'cert' | 'key'): { [file: string]: Buffer } => {
    const path = files[name];
    if (path === undefined) return {};
    try {
      return { [name]: readFileSync(path) };
    } catch (err) {
      throw new ConfigError([`${setting}.${name}: cannot read ${path}: ${(err as Error).message}`]);
    }
  };
  return { ...read('ca'), ...read('cert'), ...read('key'), rejectUnauthorized: files.rejectUnauthorized ?? true };
}
