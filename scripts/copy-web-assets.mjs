// Copies the web edge's static assets (src/web/static: stylesheet, later the
// staff pages' scripts) next to the compiled code (dist/web/static), where
// src/web/app.ts serves them from. tsc copies only .ts output. Run by the
// "build" and "prepare" scripts after tsc.
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(root, 'src', 'web', 'static');
const to = path.join(root, 'dist', 'web', 'static');
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
