// What the soak watches of the gateway process while it runs: resident
// memory (VmRSS from /proc), the V8 heap (written by heap-probe.js, which
// the gateway loads with --import), and its open file descriptors
// (/proc/PID/fd), once a second; and the judgement whether they stayed flat.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const MB = 1024 * 1024;

export function residentBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
}

/** Open file descriptors (sockets, files, pipes, epoll...). */
export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** What the descriptors point at ("socket:[...]" shortened to "socket", files by path), counted. */
export function fdTargets(pid) {
  const targets = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/^(socket|pipe|anon_inode):.*$/, '$1');
    } catch {
      continue; // Closed in between.
    }
    targets[target] = (targets[target] ?? 0) + 1;
  }
  return targets;
}

/** Targets with more descriptors in `after` than in `before`, and how many more. */
export function fdGrowth(before, after) {
  return Object.fromEntries(Object.entries(after).filter(([t, n]) => n > (before[t] ?? 0)).map(([t, n]) => [t, n - (before[t] ?? 0)]));
}

/** The gateway's last process.memoryUsage(), or null when the probe has not written yet. */
function readHeap(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Samples every `intervalMs`; `progress()` says how many messages are finished at that moment. */
export function startMonitor(pid, { heapFile, progress, intervalMs = 1000 }) {
  const started = Date.now();
  const samples = [];
  const sample = () => {
    try {
      const heap = readHeap(heapFile);
      samples.push({ t: (Date.now() - started) / 1000, done: progress(), rss: residentBytes(pid), fds: fdCount(pid), heapUsed: heap?.heapUsed ?? null, external: heap ? heap.external : null });
    } catch {
      // The process is gone; the run notices that on its own.
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      sample();
      return samples;
    },
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

/** Fewer samples than this after warm-up give no verdict (a short CI run): too few to tell a trend from noise. */
export const MIN_SAMPLES = 20;

/**
 * "Flat": after warm-up (the first `warmup` share of the messages), the
 * median of the last quarter of the samples exceeds the median of the
 * second quarter by less than the bound: max(boundMb, boundPct% of the
 * second-quarter median). Medians, not peaks: a garbage collection that
 * has not run yet is not a leak; growth that stays is. The slope (per
 * 10,000 messages, least squares over all samples after warm-up) is
 * reported alongside.
 */
export function flatness(samples, field, { totalMessages, warmup, boundMb, boundPct }) {
  const loaded = samples.filter((s) => s.done >= totalMessages * warmup && s.done < totalMessages && s[field] !== null);
  if (loaded.length < MIN_SAMPLES) return { verdict: 'too-short', samples: loaded.length };
  const q = loaded.length / 4;
  const second = median(loaded.slice(Math.floor(q), Math.floor(2 * q)).map((s) => s[field]));
  const last = median(loaded.slice(Math.floor(3 * q)).map((s) => s[field]));
  const growth = last - second;
  const bound = Math.max(boundMb * MB, (boundPct / 100) * second);
  const perTenThousand = slope(loaded.map((s) => ({ x: s.done, y: s[field] }))) * 10_000;
  return {
    verdict: growth < bound ? 'flat' : 'growing',
    samples: loaded.length,
    secondQuarterMedianMb: round(second / MB),
    lastQuarterMedianMb: round(last / MB),
    growthMb: round(growth / MB),
    boundMb: round(bound / MB),
    slopeMbPer10kMessages: round(perTenThousand / MB),
    minMb: round(Math.min(...loaded.map((s) => s[field])) / MB),
    maxMb: round(Math.max(...loaded.map((s) => s[field])) / MB),
  };
}

const round = (x) => Math.round(x * 10) / 10;
