/**
 * `siegel` as the administrator runs it: bin/siegel.js (the build in dist/)
 * as a child process of the project's Node 24, for the faults that need a
 * process to die or to refuse to start.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const node = path.join(root, 'node_modules', '.bin', 'node');

/** Rebuilds dist/ when a source file is newer than its build (`npm test` builds first, so CI never does). */
export function ensureBuilt(): void {
  const src = path.join(root, 'src');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? walk(full) : entry.name.endsWith('.ts') ? [full] : [];
    });
  const stale = () =>
    walk(src).some((file) => {
      try {
        return statSync(path.join(root, 'dist', path.relative(src, file).replace(/\.ts$/, '.js'))).mtimeMs < statSync(file).mtimeMs;
      } catch {
        return true;
      }
    });
  if (!stale()) return;
  const build = spawnSync(node, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root });
  // tsc emits despite type errors (e.g. in a file someone is editing while this runs); only a missing build is fatal here.
  if (build.status !== 0 && !existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error(`build failed:\n${build.stdout.toString()}${build.stderr.toString()}`);
}

/**
 * Spawns `siegel args` in `cwd`; `wrapper` is a command line the siegel
 * command line is appended to (e.g. the tiny-disk namespace below).
 */
export function spawnSiegel(args: readonly string[], cwd: string, wrapper: readonly string[] = []): ChildProcessWithoutNullStreams {
  const command = [...wrapper, node, path.join(root, 'bin', 'siegel.js'), ...args];
  return spawn(command[0] ?? node, command.slice(1), { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd } });
}

/**
 * A command-line prefix that runs the rest in a new user and mount
 * namespace (`unshare -rm`, which needs no root) with a tmpfs of `size`
 * mounted on `directory`: a small disk that really fills up (ENOSPC), seen
 * only by that process. With `listAfter`, the files left on it are printed
 * after the command ends (the tmpfs goes with the namespace); without, the
 * command replaces the shell (exec), so signals reach it and
 * /proc/<pid>/root shows its view of the disk.
 */
export function tinyDisk(directory: string, size: string, options: { listAfter?: boolean } = {}): string[] {
  const mount = 'mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$2" || exit 97; dir="$2"; shift 2';
  const run = options.listAfter ? `"$@"; rc=$?; echo "${LEFT_MARK}"; find "$dir" -type f; exit $rc` : 'exec "$@"';
  return ['unshare', ...namespaceFlags(), 'sh', '-c', `${mount}; ${run}`, 'tiny-disk', size, directory];
}

/**
 * `-rm` (a user namespace, no root needed) where the kernel allows
 * unprivileged user namespaces; otherwise, as root, a mount namespace alone.
 * Neither: an error that says so (the disk-full tests are never skipped).
 */
function namespaceFlags(): string[] {
  for (const flags of [['-rm'], ['-m']]) {
    if (spawnSync('unshare', [...flags, 'true']).status === 0) return flags;
  }
  throw new Error('unshare -rm and unshare -m both fail here: the disk-full tests need a mount namespace (user namespaces, or root)');
}

/** Line after which a tinyDisk(..., { listAfter: true }) command prints the files left on the disk. */
export const LEFT_MARK = '--- files left on the tiny disk:';

export interface Finished {
  /** Exit code, or null when killed by a signal (or by our time limit). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs `siegel args` to its end, killing it after `limitMs`. */
export function runSiegel(args: readonly string[], cwd: string, limitMs = 15_000, wrapper: readonly string[] = []): Promise<Finished> {
  const child = spawnSiegel(args, cwd, wrapper);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, timedOut });
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:port (rejects after `limitMs`). */
export async function waitForPort(port: number, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

export interface ServeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Ports the listeners bound, read from their "listening" log lines. */
  readonly ports: { readonly submission: number; readonly inbound: number; readonly web: number };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Starts `siegel serve --config siegel.yaml` in `dir` and waits until its three listeners are listening. */
export async function startServeProcess(dir: string, options: { limitMs?: number; wrapper?: readonly string[] } = {}): Promise<ServeProcess> {
  const limitMs = options.limitMs ?? 20_000;
  const child = spawnSiegel(['serve', '--config', 'siegel.yaml'], dir, options.wrapper);
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ports: Record<string, number> = {};
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`siegel serve did not start:\n${stderr}`)), limitMs);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Whole lines only: a chunk may end in the middle of one.
      for (const line of stderr.slice(0, stderr.lastIndexOf('\n') + 1).split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        const entry = JSON.parse(line) as { listener: string; address: string };
        ports[entry.listener] = Number(entry.address.slice(entry.address.lastIndexOf(':') + 1));
      }
      if (ports.submission && ports.inbound && ports.web) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(({ code, signal }) => reject(new Error(`siegel serve exited (${code ?? signal}) while starting:\n${stderr}`)));
  });
  await listening;
  return {
    child,
    ports: { submission: ports.submission ?? 0, inbound: ports.inbound ?? 0, web: ports.web ?? 0 },
    exited,
    stderr: () => stderr,
  };
}
