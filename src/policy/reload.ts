/**
 * The policy in force, kept across reloads. A reload (on demand, and on a
 * change in the directory when watching) replaces it only with a policy
 * that loads without a single issue; otherwise the last good one keeps
 * running and the report says why, so a half-saved file or a typo never
 * turns encryption off. A directory that disappears after it held rules
 * counts as broken for the same reason. SIGHUP is wired by `siegel serve`.
 */
import { watch, type FSWatcher } from 'node:fs';
import { formatIssue, loadPolicies, type PolicyIssue, type PolicySet } from './load.js';
import { SiegelError } from '../errors.js';

export type ReloadReport =
  | { readonly ok: true; readonly policy: PolicySet }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[]; /** The policy still in force. */ readonly policy: PolicySet };

export interface PolicyHolderOptions {
  /** Called after every reload, good or not (e.g. to log it). */
  readonly onReload?: (report: ReloadReport) => void;
  /** Quiet time after the last change before a watched directory is reloaded (ms). */
  readonly debounceMs?: number;
}

export class PolicyHolder {
  private policy: PolicySet;
  private watcher: FSWatcher | undefined;
  /** Watching was asked for (serve): kept up across a directory created, removed or re-created later. */
  private watching = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly directory: string,
    initial: PolicySet,
    private readonly options: PolicyHolderOptions,
  ) {
    this.policy = initial;
  }

  /** Loads the directory; a broken policy at start-up is a config error (fail fast). */
  static open(directory: string, options: PolicyHolderOptions = {}): PolicyHolder {
    const result = loadPolicies(directory);
    if (!result.ok) throw new SiegelError('CONFIG_INVALID', `invalid policy in ${directory}:\n${result.issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`);
    return new PolicyHolder(directory, result.policy, options);
  }

  current(): PolicySet {
    return this.policy;
  }

  reload(): ReloadReport {
    const result = loadPolicies(this.directory);
    let report: ReloadReport;
    if (!result.ok) {
      report = { ok: false, issues: result.issues, policy: this.policy };
    } else if (result.policy.missingDirectory && this.policy.rules.length > 0) {
      report = { ok: false, issues: [{ file: this.directory, key: '', message: `the directory is gone; keeping the ${this.policy.rules.length} rule(s) loaded before (create an empty directory for no rules)` }], policy: this.policy };
    } else {
      this.policy = result.policy;
      report = { ok: true, policy: result.policy };
      // A directory created (or re-created) after the start is watched from now on.
      if (this.watching && !this.watcher) this.watch();
    }
    this.options.onReload?.(report);
    return report;
  }

  /**
   * Reloads after changes in the directory settle. Editors write several
   * events per save (temporary file, rename), hence the debounce. Returns
   * false when the directory cannot be watched (e.g. it does not exist);
   * reload() still works then.
   */
  watch(): boolean {
    this.watching = true;
    if (this.watcher) return true;
    try {
      this.watcher = watch(this.directory, { persistent: false }, () => this.schedule());
    } catch {
      return false;
    }
    // A watcher that fails later (directory removed) must not crash the gateway.
    this.watcher.on('error', () => this.unwatch());
    return true;
  }

  close(): void {
    this.unwatch();
  }

  private unwatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload();
    }, this.options.debounceMs ?? 250);
    this.timer.unref();
  }
}
