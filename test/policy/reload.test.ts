/**
 * PolicyHolder: a broken file keeps the last good policy running and says
 * why; a fixed file is picked up, on demand and by watching the directory.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatIssue } from '../../src/policy/load.js';
import { PolicyHolder, type ReloadReport } from '../../src/policy/reload.js';
import { lines, policyDir } from './policy-dir.js';

const rule = (name: string, encrypt: string) => lines('rules:', `  - name: ${name}`, '    match: { direction: outbound }', `    encrypt: ${encrypt}`);
const names = (holder: PolicyHolder) => holder.current().rules.map((r) => `${r.rule.name}=${r.rule.encrypt ?? ''}`);

describe('PolicyHolder', () => {
  it('refuses to start with a broken policy, naming file and line', () => {
    const dir = policyDir({ 'a.yaml': rule('r', 'sometimes') });
    expect(() => PolicyHolder.open(dir)).toThrow(`${path.join(dir, 'a.yaml')}:4: rules[0].encrypt: expected one of never, opportunistic, required, got "sometimes"`);
  });

  it('keeps the last good policy on a broken file and picks up the fixed one', () => {
    const dir = policyDir({ 'a.yaml': rule('first', 'required') });
    const reports: ReloadReport[] = [];
    const holder = PolicyHolder.open(dir, { onReload: (report) => reports.push(report) });
    expect(names(holder)).toEqual(['first=required']);

    writeFileSync(path.join(dir, 'a.yaml'), rule('second', 'maybe'));
    const broken = holder.reload();
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.issues.map(formatIssue)).toEqual([`${path.join(dir, 'a.yaml')}:4: rules[0].encrypt: expected one of never, opportunistic, required, got "maybe"`]);
    expect(names(holder)).toEqual(['first=required']);
    expect(broken.policy).toBe(holder.current());

    writeFileSync(path.join(dir, 'a.yaml'), rule('second', 'never'));
    expect(holder.reload().ok).toBe(true);
    expect(names(holder)).toEqual(['second=never']);
    expect(reports.map((r) => r.ok)).toEqual([false, true]);
  });

  it('keeps its rules when the directory disappears, and accepts an empty directory', () => {
    const dir = policyDir({ 'a.yaml': rule('kept', 'required') });
    const holder = PolicyHolder.open(dir);
    const moved = `${dir}-moved`;
    renameSync(dir, moved);
    const gone = holder.reload();
    expect(gone.ok).toBe(false);
    if (!gone.ok) expect(gone.issues[0]?.message).toContain('the directory is gone');
    expect(names(holder)).toEqual(['kept=required']);
    renameSync(moved, dir);
    rmSync(path.join(dir, 'a.yaml'));
    expect(holder.reload().ok).toBe(true);
    expect(holder.current().rules).toEqual([]);
    expect(holder.current().missingDirectory).toBe(false);
  });

  it('reloads by itself when a file in the watched directory changes', async () => {
    const dir = policyDir({ 'a.yaml': rule('before', 'required') });
    let waiting: ((report: ReloadReport) => void) | undefined;
    const holder = PolicyHolder.open(dir, { debounceMs: 50, onReload: (report) => waiting?.(report) });
    // A loaded machine may deliver a change in more than one burst of events, so wait for the reload that shows the change.
    const reloaded = (shows: (report: ReloadReport) => boolean) =>
      new Promise<ReloadReport>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no such reload within 20 s')), 20_000);
        waiting = (report) => {
          if (!shows(report)) return;
          clearTimeout(timer);
          waiting = undefined;
          resolve(report);
        };
      });
    try {
      expect(holder.watch()).toBe(true);
      let report = reloaded((r) => !r.ok);
      writeFileSync(path.join(dir, 'a.yaml'), rule('before', 'bogus'));
      const broken = await report;
      if (!broken.ok) expect(broken.issues.map((i) => `${i.line} ${i.key}`)).toEqual(['4 rules[0].encrypt']);
      expect(names(holder)).toEqual(['before=required']);

      report = reloaded((r) => r.ok);
      // An editor's save: write a temporary file, then rename it over the old one.
      writeFileSync(path.join(dir, '.a.yaml.tmp'), rule('after', 'never'));
      renameSync(path.join(dir, '.a.yaml.tmp'), path.join(dir, 'a.yaml'));
      expect((await report).policy.rules.map((r) => r.rule.name)).toEqual(['after']);
      expect(names(holder)).toEqual(['after=never']);
    } finally {
      holder.close();
    }
  });

  it('cannot watch a directory that does not exist, but still reloads on demand', () => {
    const dir = path.join(policyDir({}), 'later');
    const holder = PolicyHolder.open(dir);
    expect(holder.watch()).toBe(false);
    expect(holder.current().missingDirectory).toBe(true);
    expect(holder.reload().ok).toBe(true);
  });

  it('watches a directory created after the start once a reload (SIGHUP) found it', async () => {
    const dir = path.join(policyDir({}), 'later');
    let changed: (() => void) | undefined;
    const holder = PolicyHolder.open(dir, { debounceMs: 50, onReload: (report) => report.policy.rules.length === 2 && changed?.() });
    try {
      expect(holder.watch()).toBe(false);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'a.yaml'), rule('first', 'required'));
      expect(holder.reload().policy.rules.map((r) => r.rule.name)).toEqual(['first']);
      // From now on a change in the directory is picked up without another SIGHUP.
      const seen = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reload within 20 s')), 20_000);
        changed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      writeFileSync(path.join(dir, 'b.yaml'), rule('second', 'never'));
      await seen;
      expect(names(holder)).toEqual(['first=required', 'second=never']);
    } finally {
      holder.close();
    }
  });
});
