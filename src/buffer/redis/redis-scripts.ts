import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';

/**
 * The buffer's Lua scripts, one state change each, in `scripts/<verb>-<numKeys>.lua` with a
 * header listing KEYS, ARGV and return codes. They are registered once per connection with
 * `defineCommand` (EVALSHA, falling back to EVAL when the server lacks the script).
 *
 * Code several scripts share (how a trace's meta is read and written) is in `scripts/<name>.lua`
 * without a key count, and a script takes it in with a line `-- include <name>.lua`: Redis
 * runs each script on its own, so the text is inserted before the script is registered.
 */
export const SCRIPT_VERBS = ['append', 'claim', 'complete', 'release', 'requeue-expired', 'note-decision'] as const;
export type ScriptVerb = (typeof SCRIPT_VERBS)[number];

export interface BufferScript {
  readonly verb: ScriptVerb;
  readonly numberOfKeys: number;
  readonly lua: string;
}

export type ScriptArg = string | number | Buffer;

const SCRIPT_FILE = /^([a-z]+(?:-[a-z]+)*)-(\d+)\.lua$/;
const INCLUDE_LINE = /^-- include ([a-z]+(?:-[a-z]+)*\.lua)$/gm;

let loaded: Promise<ReadonlyMap<ScriptVerb, BufferScript>> | undefined;

/**
 * Reads the scripts once per process. `tsc` does not copy .lua files into dist/, so compiled
 * code finds them in the source tree, walking up from this module to the folder of
 * package.json (see scriptsDir).
 */
export function loadBufferScripts(): Promise<ReadonlyMap<ScriptVerb, BufferScript>> {
  loaded ??= readScripts().catch((err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

/** Registers the scripts on a connection as `tailsift<Verb>` commands. Idempotent. */
export function defineBufferScripts(redis: Redis, scripts: ReadonlyMap<ScriptVerb, BufferScript>): void {
  for (const script of scripts.values()) {
    redis.defineCommand(commandName(script.verb), { lua: script.lua, numberOfKeys: script.numberOfKeys });
  }
}

/**
 * Queues a script call on a pipeline; replies come back as Buffers (fragments are binary).
 * The key count is checked against the script's file name, so a call cannot pass a key as an
 * argument by mistake.
 */
export function queueScript(
  pipeline: ChainableCommander,
  script: BufferScript,
  keys: readonly string[],
  args: readonly ScriptArg[],
): void {
  if (keys.length !== script.numberOfKeys) {
    throw new Error(`script ${script.verb} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  const command = (pipeline as unknown as Record<string, (...a: ScriptArg[]) => unknown>)[`${commandName(script.verb)}Buffer`];
  if (typeof command !== 'function') throw new Error(`script ${script.verb} is not defined on this connection`);
  command.call(pipeline, ...keys, ...args);
}

function commandName(verb: ScriptVerb): string {
  return `tailsift${verb.replace(/(^|-)([a-z])/g, (_m, _dash: string, c: string) => c.toUpperCase())}`;
}

async function readScripts(): Promise<ReadonlyMap<ScriptVerb, BufferScript>> {
  const dir = scriptsDir();
  const scripts = new Map<ScriptVerb, BufferScript>();
  for (const file of await readdir(dir)) {
    const match = SCRIPT_FILE.exec(file);
    if (match === null) continue;
    const verb = match[1] as ScriptVerb;
    if (!SCRIPT_VERBS.includes(verb)) throw new Error(`${join(dir, file)}: no script is called ${verb}`);
    if (scripts.has(verb)) throw new Error(`${dir}: two scripts for ${verb}`);
    const lua = await withIncludes(dir, file, await readFile(join(dir, file), 'utf8'));
    scripts.set(verb, { verb, numberOfKeys: Number(match[2]), lua });
  }
  const absent = SCRIPT_VERBS.filter((v) => !scripts.has(v));
  if (absent.length > 0) throw new Error(`${dir}: no script for ${absent.join(', ')}`);
  return scripts;
}

/** The script with each `-- include <name>.lua` line replaced by that file of `dir`. */
async function withIncludes(dir: string, file: string, lua: string): Promise<string> {
  const names = [...new Set([...lua.matchAll(INCLUDE_LINE)].map((m) => m[1]))];
  const included = new Map<string, string>();
  for (const name of names) {
    if (SCRIPT_FILE.test(name)) throw new Error(`${join(dir, file)}: includes ${name}, a script of its own`);
    included.set(name, await readFile(join(dir, name), 'utf8'));
  }
  return lua.replace(INCLUDE_LINE, (_line, name: string) => included.get(name) as string);
}

/**
 * Beside this module when the .lua files were copied there (the Docker image copies every
 * non-TypeScript file of src/ into dist/src/), else in the source tree above it.
 */
function scriptsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'scripts');
  if (existsSync(beside)) return beside;
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'src', 'buffer', 'redis', 'scripts');
    if (dirname(dir) === dir) throw new Error(`no package.json above ${here}: cannot find the Redis buffer's scripts`);
  }
}

/** A script of the loaded set; they are all present once `loadBufferScripts` resolved. */
export function scriptOf(scripts: ReadonlyMap<ScriptVerb, BufferScript>, verb: ScriptVerb): BufferScript {
  const script = scripts.get(verb);
  if (script === undefined) throw new Error(`script ${verb} not loaded`);
  return script;
}
