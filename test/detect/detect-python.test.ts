/**
 * detectSmime on multipart/signed written by Python cryptography's
 * PKCS7SignatureBuilder (Encoding.SMIME, DetachedSignature): another
 * writer with its own boundary style ("=====...==") and CRLF framing. The
 * extracted entity is checked by `openssl cms -verify` over exactly those bytes.
 */
import { detectSmime } from '../../src/smime/detect.js';
import { createPeer, entity, forwardAsAttachment, LIMITS, opensslVerifiesDetached, run, toLf, withHeaders, writeTemp, type Peer } from './helpers.js';

const SIGN = `
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
cert = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
key = serialization.load_pem_private_key(open(sys.argv[2], 'rb').read(), None)
options = [pkcs7.PKCS7Options.DetachedSignature]
if sys.argv[3] == 'binary':
    options.append(pkcs7.PKCS7Options.Binary)
builder = pkcs7.PKCS7SignatureBuilder().set_data(sys.stdin.buffer.read()).add_signer(cert, key, hashes.SHA256())
sys.stdout.buffer.write(builder.sign(serialization.Encoding.SMIME, options))
`;

let peer: Peer;
let script: string;
beforeAll(() => {
  peer = createPeer();
  script = writeTemp(peer, 'sign.py', SIGN);
});

function pythonSign(input: Buffer, mode: 'text' | 'binary'): Buffer {
  const r = run('python3', [script, peer.cert, peer.key, mode], input);
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

describe('Python cryptography PKCS7SignatureBuilder (S/MIME, detached)', () => {
  test.each(['text', 'binary'] as const)('%s mode: the extracted entity verifies byte-exactly', (mode) => {
    const message = withHeaders(pythonSign(entity('\r\n'), mode), '\r\n');
    const r = detectSmime(message, LIMITS);
    if (r.kind !== 'multipart-signed') throw new Error(`got ${r.kind}`);
    expect(r.protocol).toBe('application/x-pkcs7-signature');
    expect(r.boundary).toMatch(/^=+\d+==$/);
    expect(r.signedEntityCanonical).toBeUndefined();
    expect(r.signedEntity.equals(entity('\r\n'))).toBe(true);
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntity)).toBe(true);
  });

  test('LF-only copy forwarded as message/rfc822: canonical entity verifies, exact LF bytes do not', () => {
    const inner = toLf(withHeaders(pythonSign(entity('\r\n'), 'binary'), '\r\n'));
    const { outer } = forwardAsAttachment(inner);
    const message = toLf(outer);
    const r = detectSmime(message, LIMITS);
    if (r.kind !== 'multipart-signed') throw new Error(`got ${r.kind}`);
    expect(r.location.path).toEqual([1]);
    expect(message.subarray(r.location.start, r.location.end).equals(inner)).toBe(true);
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntity)).toBe(false);
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntityCanonical ?? Buffer.alloc(0))).toBe(true);
  });
});
