#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli into dist/ by `npm run build` (run on install).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
