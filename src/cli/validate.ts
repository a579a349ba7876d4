import { relative, resolve, dirname, isAbsolute } from 'node:path';
import { ENGINE_CONFIG_KEYS, validateEngineConfig } from '../config/engine-config.js';
import { locate, readYamlFile, suggest } from '../config/yaml-validation.js';
import type { ParsedYaml } from '../config/yaml-validation.js';
import { validatePolicyDocument } from '../policies/policy-file.js';
import { splitPolicyPath } from '../policies/collector-config.js';
import { POLICY_FILE_KEYS } from '../policies/policy-schema.js';

export interface CommandIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

const USAGE = `Usage: tailsift validate FILE...

Checks engine configs and policy files (the Collector's tail_sampling format); the kind of
each file is recognised from its keys. An engine config's policy file is checked too.
Prints "FILE: ok" per valid file, or one line per problem: FILE:LINE:COL: <path>: <reason>.
Exit codes: 0 all valid, 1 problems found, 2 usage error.`;

export type FileKind = 'engine-config' | 'policy-file';

/** `tailsift validate FILE...`: 0 when every file is valid, 1 with problems, 2 on usage errors. */
export async function validateCommand(args: string[], io: CommandIo): Promise<number> {
  const files: string[] = [];
  let optionsEnded = false;
  for (const arg of args) {
    if (!optionsEnded && arg === '--') {
      optionsEnded = true;
    } else if (!optionsEnded && (arg === '-h' || arg === '--help')) {
      io.stdout(USAGE);
      return 0;
    } else if (!optionsEnded && arg.startsWith('-') && arg !== '-') {
      io.stderr(`tailsift validate: unknown option "${arg}"`);
      io.stderr(USAGE);
      return 2;
    } else {
      files.push(arg);
    }
  }
  if (files.length === 0) {
    io.stderr('tailsift validate: no files given');
    io.stderr(USAGE);
    return 2;
  }

  let valid = true;
  for (const file of files) {
    const lines = await validateFile(file);
    for (const line of lines.problems) io.stdout(line);
    for (const name of lines.ok) io.stdout(`${name}: ok`);
    if (lines.problems.length > 0) valid = false;
  }
  return valid ? 0 : 1;
}

/** Validates one file: its problems, and the names of the files found valid (itself, its policy file). */
export async function validateFile(arg: string): Promise<{ problems: readonly string[]; ok: readonly string[] }> {
  // `collector.yaml#tail_sampling/eu` names one processor of a Collector config.
  const { file, processor } = splitPolicyPath(arg);
  const parsed = await readYamlFile(file);
  if (!('doc' in parsed)) return { problems: parsed.problems, ok: [] };
  if (parsed.syntaxProblems.length > 0) return { problems: parsed.syntaxProblems, ok: [] };

  if (processor !== undefined || detectFileKind(parsed.data) === 'policy-file') {
    const result = validatePolicyDocument(parsed, processor);
    return result.ok ? { problems: [], ok: [arg] } : { problems: result.problems, ok: [] };
  }

  const config = validateEngineConfig(parsed, dirname(resolve(file)));
  if (!config.ok) return { problems: config.problems, ok: [] };
  const policyRef = splitPolicyPath(config.config.policies);
  const policyName = displayPath(policyRef.file);
  const policyDoc = await readYamlFile(policyRef.file, policyName);
  if (!('doc' in policyDoc)) {
    // An unreadable policy file is the config's problem: point at its `policies:` line.
    return { problems: [referenceProblem(parsed, policyName, policyDoc.unreadable)], ok: [] };
  }
  const policy = validatePolicyDocument(policyDoc, policyRef.processor);
  if (policy.ok) return { problems: [], ok: [arg, policyName] };
  return { problems: policy.problems, ok: [arg] };
}

/**
 * An engine config has `policies:` as a path and keys such as `source` or `sinks`; a policy
 * file has `policies:` as a list, or keys such as `decision_wait`. Misspelt keys count for
 * the kind they are closest to, so a typo still gets the right suggestions.
 */
export function detectFileKind(data: unknown): FileKind {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return 'engine-config';
  const record = data as Record<string, unknown>;
  if (Array.isArray(record.policies)) return 'policy-file';
  if (typeof record.policies === 'string') return 'engine-config';
  const engineOnly = ENGINE_CONFIG_KEYS.filter((key) => key !== 'policies');
  const policyOnly = POLICY_FILE_KEYS.filter((key) => key !== 'policies');
  let engineScore = 0;
  let policyScore = 0;
  for (const key of Object.keys(record)) {
    if (key === 'tail_sampling' || key === 'processors' || key === 'receivers') policyScore += 1;
    else if (engineOnly.includes(key)) engineScore += 2;
    else if (policyOnly.includes(key)) policyScore += 2;
    else if (suggest(key, engineOnly) !== undefined) engineScore += 1;
    else if (suggest(key, policyOnly) !== undefined) policyScore += 1;
  }
  return policyScore > engineScore ? 'policy-file' : 'engine-config';
}

function referenceProblem(config: ParsedYaml, policyName: string, reason: string): string {
  const written = (config.data as Record<string, unknown> | undefined)?.policies !== undefined;
  const pos = written ? locate(config, ['policies'], 'value') : { line: 1, col: 1 };
  return `${config.fileName}:${pos.line}:${pos.col}: policies: policy file "${policyName}": ${reason}`;
}

/** A path as the user would type it: relative to the working directory when inside it. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}
