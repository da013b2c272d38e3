// Spot checks with a real peer: a few of the signed and of the encrypted
// messages the submission next hop received are opened with `openssl cms`
// as the recipient's client would: the signature verifies against the
// gateway's root, the encrypted ones decrypt with the partner's key and
// hold a signature that verifies. The form checks of every message (in
// accounting.js) are cheap header tests; these prove the bytes are sound.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

function openssl(args, input) {
  return spawnSync('openssl', args, { input, maxBuffer: 64 * 1024 * 1024 });
}

function verifies(signed, caFile) {
  const result = openssl(['cms', '-verify', '-CAfile', caFile, '-purpose', 'smimesign', '-out', '/dev/null'], signed);
  return result.status === 0;
}

export function spotCheck(dir, samples, files) {
  const checks = { signed: { checked: 0, verified: 0 }, encrypted: { checked: 0, decryptedAndVerified: 0 }, problems: [] };
  for (const [i, sample] of samples.entries()) {
    if (sample.marker === 'signed') {
      checks.signed.checked++;
      if (verifies(sample.raw, files.gatewayRoot)) checks.signed.verified++;
      else checks.problems.push(`signed message ${sample.id} does not verify with openssl cms`);
    } else if (sample.marker === 'encrypted') {
      checks.encrypted.checked++;
      const partner = files.partners.find((p) => sample.rcptTo.includes(p.address));
      const input = path.join(dir, `spot-${i}.eml`);
      writeFileSync(input, sample.raw);
      const decrypted = partner ? openssl(['cms', '-decrypt', '-in', input, '-recip', partner.cert, '-inkey', partner.key]) : null;
      if (decrypted?.status === 0 && verifies(decrypted.stdout, files.gatewayRoot)) checks.encrypted.decryptedAndVerified++;
      else checks.problems.push(`encrypted message ${sample.id} does not decrypt and verify with openssl cms (${decrypted?.stderr.toString().trim().split('\n')[0] ?? 'no partner key'})`);
    }
  }
  return checks;
}
