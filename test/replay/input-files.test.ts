import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectFormat, listInputFiles } from '../../src/replay/input-files.js';
import { ReplayInputError } from '../../src/replay/replay-errors.js';
import { scratch } from './replay-fixtures.js';

describe('listInputFiles', () => {
  const { dir, cleanup } = scratch();
  afterAll(cleanup);

  it('expands directories recursively in name order, keeping only capture files', async () => {
    const root = join(dir, 'captures');
    for (const sub of ['2024-05-02', '2024-05-01/b', '2024-05-01/a', '.cache']) mkdirSync(join(root, sub), { recursive: true });
    const files = [
      '2024-05-02/00.jsonl',
      '2024-05-01/b/10.pb',
      '2024-05-01/a/20.jsonl.gz',
      '2024-05-01/a/03.binpb',
      '2024-05-01/a/traffic.manifest.jsonl',
      '2024-05-01/notes.txt',
      '.cache/00.jsonl',
      '2024-05-01/.hidden.jsonl',
    ];
    for (const f of files) writeFileSync(join(root, f), 'x');
    const single = join(dir, 'named-on-the-command-line.dat');
    writeFileSync(single, 'x');

    const listed = await listInputFiles([single, root]);
    expect(listed.map((f) => f.path)).toEqual([
      single,
      join(root, '2024-05-01/a/03.binpb'),
      join(root, '2024-05-01/a/20.jsonl.gz'),
      join(root, '2024-05-01/b/10.pb'),
      join(root, '2024-05-02/00.jsonl'),
    ]);
    expect(listed.every((f) => f.size === 1)).toBe(true);
  });

  it('says when a path is missing or a directory holds no captures', async () => {
    await expect(listInputFiles([join(dir, 'nope')])).rejects.toThrow(new ReplayInputError(`${join(dir, 'nope')}: no such file or directory`));
    mkdirSync(join(dir, 'empty'));
    await expect(listInputFiles([join(dir, 'empty')])).rejects.toThrow(/empty: no OTLP files in this directory/);
  });
});

describe('detectFormat', () => {
  it.each([
    ['a.jsonl', '0a', 'otlp-json-lines'],
    ['a.ndjson.gz', '0a', 'otlp-json-lines'],
    ['a.pb', '7b', 'otlp-protobuf'],
    ['a.bin.gz', '7b', 'otlp-protobuf'],
    ['capture', '7b22', 'otlp-json-lines'],
    ['capture', 'efbbbf7b', 'otlp-json-lines'],
    ['capture', '0a8a01', 'otlp-protobuf'],
    ['capture', '00000120', 'otlp-protobuf'],
  ])('%s starting with %s is %s', (name, head, format) => {
    expect(detectFormat(name, Buffer.from(head, 'hex'))).toBe(format);
  });
});
