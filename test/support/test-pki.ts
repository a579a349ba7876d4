import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Throwaway PEM files made with the openssl CLI: a CA, a server certificate for 127.0.0.1 and
 * a client certificate, both signed by it, and a second CA that signed neither. Valid for a day.
 */
export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly otherCa: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** Removes the files. */
  dispose(): Promise<void>;
}

export async function makeTestPki(prefix = 'tailsift-pki-'): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const openssl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  const selfSigned = (name: string, cn: string): Promise<unknown> =>
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=${cn}`);
  const signed = async (name: string, cn: string, extensions: string): Promise<void> => {
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await writeFile(join(dir, `${name}.cnf`), extensions);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.cnf`);
  };
  await selfSigned('ca', 'tailsift-test-ca');
  await selfSigned('other-ca', 'tailsift-other-ca');
  await signed('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await signed('client', 'tailsift-test-client', 'extendedKeyUsage=clientAuth\n');
  const at = (file: string): string => join(dir, file);
  return {
    dir,
    ca: at('ca.crt'),
    otherCa: at('other-ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
