import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';

/**
 * Lua scripts kept as files, `scripts/<verb>-<numKeys>.lua`, each opening with a comment
 * block that lists KEYS, ARGV and the reply. Registered once per connection with
 * `defineCommand` (EVALSHA, falling back to EVAL), as the trace buffer does with its own.
 */
export interface LuaScript {
  readonly verb: string;
  readonly numberOfKeys: number;
  readonly lua: string;
  /** The command name the script is registered under. */
  readonly command: string;
}

const SCRIPT_FILE = /^([a-z]+(?:-[a-z]+)*)-(\d+)\.lua$/;

/**
 * Reads the scripts of `verbs` from the `scripts` folder beside `moduleUrl`, or, for compiled
 * code (tsc does not copy .lua files), from `sourceDir` under the package root.
 */
export async function loadLuaScripts(moduleUrl: string, sourceDir: string, commandPrefix: string, verbs: readonly string[]): Promise<ReadonlyMap<string, LuaScript>> {
  const dir = scriptsDir(moduleUrl, sourceDir);
  const scripts = new Map<string, LuaScript>();
  for (const file of await readdir(dir)) {
    const match = SCRIPT_FILE.exec(file);
    if (match === null || !verbs.includes(match[1])) continue;
    const verb = match[1];
    const command = `${commandPrefix}${verb.replace(/(^|-)([a-z])/g, (_m, _dash: string, c: string) => c.toUpperCase())}`;
    scripts.set(verb, { verb, numberOfKeys: Number(match[2]), lua: await readFile(join(dir, file), 'utf8'), command });
  }
  const absent = verbs.filter((v) => !scripts.has(v));
  if (absent.length > 0) throw new Error(`${dir}: no script for ${absent.join(', ')}`);
  return scripts;
}

export function defineLuaScripts(redis: Redis, scripts: ReadonlyMap<string, LuaScript>): void {
  for (const script of scripts.values()) redis.defineCommand(script.command, { lua: script.lua, numberOfKeys: script.numberOfKeys });
}

/** Queues a script call on a pipeline; the key count is checked against the file name. */
export function queueLuaScript(pipeline: ChainableCommander, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): void {
  invoke(pipeline, script, keys, args);
}

/** Runs a script on a connection and resolves with its reply. */
export function callLuaScript(redis: Redis, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  return invoke(redis, script, keys, args) as Promise<unknown>;
}

function invoke(target: ChainableCommander | Redis, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): unknown {
  if (keys.length !== script.numberOfKeys) throw new Error(`script ${script.verb} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  const command = (target as unknown as Record<string, (...a: (string | number)[]) => unknown>)[script.command];
  if (typeof command !== 'function') throw new Error(`script ${script.verb} is not defined on this connection`);
  return command.call(target, ...keys, ...args);
}

export function scriptOf(scripts: ReadonlyMap<string, LuaScript>, verb: string): LuaScript {
  const script = scripts.get(verb);
  if (script === undefined) throw new Error(`script ${verb} not loaded`);
  return script;
}

function scriptsDir(moduleUrl: string, sourceDir: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  const beside = join(here, 'scripts');
  if (existsSync(beside)) return beside;
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, sourceDir);
    if (dirname(dir) === dir) throw new Error(`no package.json above ${here}: cannot find the scripts of ${sourceDir}`);
  }
}
