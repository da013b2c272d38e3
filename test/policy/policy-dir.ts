/** Temporary policy directories for the policy tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fresh directory holding the given files (name -> YAML text). */
export function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Joins lines with \n, so a test can count which line a key is on. */
export function lines(...text: string[]): string {
  return `${text.join('\n')}\n`;
}
