import { runCommand } from './run.js';
import { validateCommand } from './validate.js';
import { generateCommand } from './generate.js';
import { replayCommand } from './replay.js';
import { USAGE, usageError } from './usage.js';

/** `tailsift <command> ...`; resolves to the process exit code (0 ok, 1 invalid input, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'validate':
      return validateCommand(rest, {
        stdout: (line) => process.stdout.write(`${line}\n`),
        stderr: (line) => process.stderr.write(`${line}\n`),
      });
    case 'generate':
      return generateCommand(rest);
    case 'replay':
      return replayCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    case '-v':
    case '--version':
      process.stdout.write(`${await version()}\n`);
      return 0;
    default:
      return usageError(`unknown command "${command}"`);
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
