#!/usr/bin/env -S node --max-semi-space-size=1 --expose-gc
// Entry point for `npx siegel`: runs the compiled CLI (built by `npm ci` via the prepare script).
// --max-semi-space-size=1 keeps V8's young generation small, so the many
// short-lived buffers of a large message or file transfer are collected
// early instead of piling up (docs/benchmarks.md: 50 MB message 160 MB peak
// instead of 185 MB, 1 GiB upload 136 MB instead of 206 MB and faster;
// about 8% fewer small messages signed per second). --expose-gc lets the SMTP
// listener run a minor collection every 8 MiB received, so the dead socket
// buffers of a large message are freed early (src/smtp/read-buffer-release.ts).
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
