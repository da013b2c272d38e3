#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point for `npx siegel`: runs the compiled CLI (built by `npm ci` via the prepare script).
// --max-semi-space-size=8 caps V8's young generation: parsing a large message
// makes many short-lived objects, and the default lets the heap reserve about
// 30 MB more for them (peak 176 MB instead of 208 MB for a 50 MB message).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `siegel needs Node.js 24 or later; this is ${process.version}.\n` +
      'Run it as `npx siegel ...` or through `npm start`: both use the Node.js 24 that `npm ci` installs.\n',
  );
  process.exit(1);
}

const { main } = await import('../dist/cli.js');
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`siegel: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
