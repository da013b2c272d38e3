/**
 * The policies of a running `siegel serve`: loaded once at start (a broken
 * policy fails the start, naming file and line), reloaded on SIGHUP and
 * when a file in the directory changes. A reload never drops a connection:
 * the pipelines read the policy in force per message and per recipient, so
 * the next message gets the new rules. A broken reload keeps the last good
 * policy and logs each problem (file, line, key) as a warning.
 */
import type { Logger } from '../log.js';
import { formatIssue, type PolicySet } from './load.js';
import { PolicyHolder, type ReloadReport } from './reload.js';

export interface ServePolicies {
  /** The policy in force (for the pipelines and the RCPT grouping). */
  current(): PolicySet;
  /** Reloads now, as SIGHUP does. */
  reload(): ReloadReport;
  /** Stops watching and listening for SIGHUP. */
  close(): void;
}

export interface ServePoliciesOptions {
  /** Quiet time after a change in the directory before it is reloaded (ms). */
  readonly debounceMs?: number;
}

function logReload(logger: Logger, report: ReloadReport, directory: string): void {
  if (report.ok) {
    logger.info({ policies: directory, files: report.policy.files.length, rules: report.policy.rules.length }, 'policies reloaded');
    return;
  }
  // policyKey, not key: the logger redacts fields named key.
  for (const issue of report.issues) {
    logger.warn(
      { policies: directory, file: issue.file, ...(issue.line !== undefined ? { line: issue.line } : {}), policyKey: issue.key, problem: formatIssue(issue), rulesInForce: report.policy.rules.length },
      'policy reload failed, the last good policy stays in force',
    );
  }
}

/** Opens the policy directory (throws CONFIG_INVALID when it is broken), watches it and listens for SIGHUP. */
export function openServePolicies(directory: string, logger: Logger, options: ServePoliciesOptions = {}): ServePolicies {
  const holder = PolicyHolder.open(directory, {
    onReload: (report) => logReload(logger, report, directory),
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
  });
  const policy = holder.current();
  const watching = holder.watch();
  logger.info({ policies: directory, files: policy.files.length, rules: policy.rules.length, missingDirectory: policy.missingDirectory, watching }, 'policies loaded');
  const onHangup = () => {
    logger.info({ policies: directory, signal: 'SIGHUP' }, 'reloading policies');
    holder.reload();
  };
  process.on('SIGHUP', onHangup);
  return {
    current: () => holder.current(),
    reload: () => holder.reload(),
    close() {
      process.off('SIGHUP', onHangup);
      holder.close();
    },
  };
}
