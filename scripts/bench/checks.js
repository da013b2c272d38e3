// What proves the figures are of the real thing: every delivered message is
// of the kind its mode must produce (the next hop reads each header), and
// one delivered sample of each kind passes OpenSSL: the signed one verifies,
// the encrypted one decrypts with the recipient's key to a signed message
// that verifies.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { BODY_TEXT } from './messages.js';

/** What every message of a cell must look like at the next hop. */
export const EXPECTED = {
  pass: { kinds: ['plain'], verdict: null, label: 'plain' },
  sign: { kinds: ['signed'], verdict: null, label: 'multipart/signed' },
  'sign+encrypt': { kinds: ['enveloped', 'authEnveloped'], verdict: null, label: 'pkcs7-mime enveloped' },
  'inbound pass': { kinds: ['plain'], verdict: null, label: 'plain' },
  verify: { kinds: ['signed'], verdict: 'pass', label: 'smime=pass' },
};

const delta = (after, before) => Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));

/** "ok" or what went wrong, from the next hop's counts before and after a cell that sent `sent` messages. */
export function checkCell(mode, sent, before, after) {
  const expected = EXPECTED[mode];
  const received = after.received - before.received;
  const kinds = delta(after.kinds, before.kinds);
  const smime = delta(after.smime, before.smime);
  const problems = [];
  if (received !== sent) problems.push(`${received} of ${sent} delivered`);
  const right = expected.kinds.reduce((n, k) => n + (kinds[k] ?? 0), 0);
  if (right !== received) problems.push(`${received - right} not ${expected.label} (${JSON.stringify(kinds)})`);
  if (expected.verdict && (smime[expected.verdict] ?? 0) !== received) problems.push(`${received - (smime[expected.verdict] ?? 0)} without smime=${expected.verdict} (${JSON.stringify(smime)})`);
  return { ok: problems.length === 0, text: problems.length === 0 ? 'ok' : problems.join('; '), kinds, smime };
}

function openssl(args) {
  return execFileSync('openssl', args, { maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
}

function verifySigned(file, pkiDir) {
  const content = openssl(['cms', '-verify', '-in', file, '-CAfile', path.join(pkiDir, 'root.pem')]).toString('latin1');
  if (!content.includes(BODY_TEXT.trim())) throw new Error('the verified content lacks the message text');
}

/**
 * Checks the samples the next hop kept: `samples` maps "kind-verdict" to a
 * file. Returns one line per sample checked; throws on the first failure.
 */
export function checkSamples(samples, pkiDir, workDir) {
  const lines = [];
  const signed = samples['signed-none'];
  if (signed) {
    verifySigned(signed, pkiDir);
    lines.push('a delivered signed message verifies with openssl cms -verify (the bench root as the only CA)');
  }
  const enveloped = samples['enveloped-none'] ?? samples['authEnveloped-none'];
  if (enveloped) {
    const inner = path.join(workDir, 'decrypted.eml');
    openssl(['cms', '-decrypt', '-in', enveloped, '-recip', path.join(pkiDir, 'partner.pem'), '-inkey', path.join(pkiDir, 'partner.key'), '-out', inner]);
    verifySigned(inner, pkiDir);
    lines.push("a delivered sign+encrypt message decrypts with openssl cms -decrypt (the recipient's key) to a signed message that verifies");
  }
  return lines;
}
