#!/usr/bin/env node
// Entry point for `npx siegel`: runs the compiled CLI (built by `npm ci` via the prepare script).
import { main } from '../dist/cli.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`siegel: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
