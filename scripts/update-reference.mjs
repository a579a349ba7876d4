#!/usr/bin/env node
// Regenerates the engine config reference in README.md from the config schema (the single
// source of defaults). Run through `npm run docs`, which builds first.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderEngineConfigReference } from '../dist/src/config/engine-config.js';

const START = '<!-- config-reference:start -->';
const END = '<!-- config-reference:end -->';
const readmeUrl = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a < 0 || b < a) {
  console.error(`README.md lacks the ${START} ... ${END} markers`);
  process.exit(1);
}
const body = renderEngineConfigReference().replace(/^(#+) /gm, '#$1 ');
writeFileSync(readmeUrl, `${readme.slice(0, a + START.length)}\n${body.trim()}\n${readme.slice(b)}`);
console.log('README.md: config reference updated');
