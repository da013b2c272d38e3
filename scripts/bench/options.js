// Command-line options of `npm run bench`: what to measure and how much.
// With no options, the full matrix (every size, connection count and mode,
// the 50 MB memory peak and the large-file exchange); the older single-mode
// invocations (--mode relay|verify|files) keep their meaning.
import { parseSize } from './sizes.js';

export const ALL_MODES = ['pass', 'sign', 'sign+encrypt', 'verify'];
const ALL_SIZES = ['10KB', '1MB', '25MB'];
const ALL_CONCURRENCY = [1, 16, 64];
const KEYS = ['rsa3072', 'rsa2048', 'p256'];
const BOOLEAN = new Set(['help', 'quick']);

export const usage = `usage: npm run bench [-- options]

  (no options)              the full matrix: 10KB,1MB,25MB x 1,16,64 connections x
                            pass,sign,sign+encrypt,verify; 50 MB peak memory; a 1 GiB file
  --sizes 10KB,1MB          message sizes (KB/MB = KiB/MiB)
  --concurrency 1,16,64     concurrent client connections
  --modes pass,sign,sign+encrypt,verify
  --messages N              messages per cell after warm-up, sent in two rounds (default:
                            by size, 10KB 2000, 1MB 300, 25MB max(2 x connections, 24))
  --quick                   small counts, for a smoke run
  --key rsa3072|rsa2048|p256  the gateway's signing identity and the verify signer
  --recipient-key rsa3072|rsa2048|p256  the sign+encrypt recipient's certificate
  --skip memory,files       leave out the 50 MB memory peak and/or the large-file runs
  --file-size SIZE          large-file size (default 1GB)
  --runs N                  large-file runs (default 1)
  --json FILE               also write every figure as JSON

  --mode relay              as before: 10 KB, 16 connections, pass and sign, 50 MB peak
  --mode verify             as before: 10 KB, 16 connections, inbound verification
  --mode files              as before: the large-file exchange only (1 GiB)

  GATEWAY_NODE_FLAGS overrides the gateway's Node flags (default --max-semi-space-size=1 --expose-gc).`;

function parseArgv(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (BOOLEAN.has(name)) args[name] = true;
    else if (inline !== undefined) args[name] = inline;
    else if (i + 1 < argv.length) args[name] = argv[++i];
    else throw new Error(`--${name} needs a value`);
  }
  return args;
}

const list = (text) =>
  String(text)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function oneOf(value, allowed, name) {
  if (!allowed.includes(value)) throw new Error(`--${name} must be one of ${allowed.join(', ')} (got ${value})`);
  return value;
}

/** The parsed plan, or { help: true }. Throws with a readable message on a bad option. */
export function parseOptions(argv) {
  const args = parseArgv(argv);
  if (args.help) return { help: true };
  const mode = args.mode === undefined ? 'matrix' : oneOf(args.mode, ['relay', 'verify', 'files'], 'mode');
  // The single-mode invocations keep their old scope unless a list option widens it.
  const scope = {
    matrix: { sizes: ALL_SIZES, concurrency: ALL_CONCURRENCY, modes: ALL_MODES, memory: true, files: true, fileSize: '1GB' },
    relay: { sizes: ['10KB'], concurrency: [16], modes: ['pass', 'sign'], memory: true, files: false, fileSize: '1GB' },
    verify: { sizes: ['10KB'], concurrency: [16], modes: ['verify'], memory: false, files: false, fileSize: '1GB' },
    files: { sizes: [], concurrency: [], modes: [], memory: false, files: true, fileSize: '1GB' },
  }[mode];
  const skip = new Set(args.skip === undefined ? [] : list(args.skip).map((s) => oneOf(s, ['memory', 'files'], 'skip')));
  const sizes = (args.sizes === undefined ? scope.sizes : list(args.sizes)).map((s) => ({ label: s, bytes: parseSize(s) }));
  const concurrency = (args.concurrency === undefined ? scope.concurrency : list(args.concurrency).map(Number)).map((n) => {
    if (!Number.isInteger(n) || n < 1 || n > 150) throw new Error(`--concurrency takes whole numbers from 1 to 150 (got ${n})`);
    return n;
  });
  const modes = args.modes === undefined ? scope.modes : list(args.modes).map((m) => oneOf(m, ALL_MODES, 'modes'));
  const messages = args.messages === undefined ? undefined : Number(args.messages);
  if (messages !== undefined && (!Number.isInteger(messages) || messages < 1)) throw new Error('--messages takes a whole number >= 1');
  return {
    mode,
    sizes: mode === 'files' ? [] : sizes,
    concurrency,
    modes: mode === 'files' ? [] : modes,
    messages,
    quick: args.quick === true,
    key: oneOf(args.key ?? 'rsa3072', KEYS, 'key'),
    recipientKey: oneOf(args['recipient-key'] ?? 'rsa3072', KEYS, 'recipient-key'),
    memory: scope.memory && !skip.has('memory') && mode !== 'files',
    files: scope.files && !skip.has('files'),
    fileSize: parseSize(args['file-size'] ?? scope.fileSize),
    runs: Number(args.runs ?? 1),
    json: args.json,
  };
}

/**
 * Messages per cell after warm-up. Scaled by size so the full matrix fits in
 * about a quarter of an hour on two cores, and each cell still has a few
 * seconds of work or at least 64 messages (25 MB: two per connection).
 */
export function cellCounts(bytes, concurrency, { messages, quick }) {
  const MiB = 1024 * 1024;
  let count;
  if (messages !== undefined) count = messages;
  else if (bytes >= 8 * MiB) count = quick ? Math.max(concurrency, 4) : Math.max(2 * concurrency, 24);
  else if (bytes >= 256 * 1024) count = quick ? Math.max(concurrency, 20) : 300;
  else count = quick ? Math.max(2 * concurrency, 200) : 2000;
  // Warm-up: every connection has done a transaction and the JIT has seen
  // the path; for the largest messages only a few (they cost seconds each).
  const warmup = bytes >= 8 * MiB ? Math.min(concurrency, 4) : Math.max(concurrency, Math.min(100, Math.ceil(count / 10)));
  return { count, warmup };
}
