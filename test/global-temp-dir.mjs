// Jest globalSetup / globalTeardown: one temporary directory per test run.
// Tests make their directories with mkdtemp under os.tmpdir(), which reads
// TMPDIR, and the processes they start (siegel serve, openssl, gpgsm...)
// inherit it; the whole tree is removed when the run ends, so repeated runs
// do not leave thousands of directories (test keys among them) in /tmp.
// (Not a SIEGEL_* variable: the gateway reads those as configuration.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-tests-'));
  process.env.TEST_RUN_TMPDIR = dir;
  process.env.TMPDIR = dir;
}

export function teardown() {
  const dir = process.env.TEST_RUN_TMPDIR;
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
