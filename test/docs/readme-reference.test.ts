import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderEngineConfigReference } from '../../src/config/engine-config.js';

describe('README', () => {
  it('holds the config reference generated from the current schema (run `npm run docs` after changing it)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const expected = renderEngineConfigReference().replace(/^(#+) /gm, '#$1 ').trim();
    const start = readme.indexOf('<!-- config-reference:start -->');
    const end = readme.indexOf('<!-- config-reference:end -->');
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start, end)).toContain(expected);
  });

  it('gives the quick start commands', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });
});
