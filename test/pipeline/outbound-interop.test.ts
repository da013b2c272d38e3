/**
 * The outbound pipeline end to end: every mail fixture, signed by RSA-2048,
 * RSA-3072 and ECDSA P-256 identities from the real keystore, verifies with
 * OpenSSL, gpgsm and NSS; the decoded content equals the input; the outer
 * headers are unchanged.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import type { KeySpec } from '../../src/pki/generate.js';
import { createRootCa, issueCa, issueMailbox } from '../../src/pki/generate.js';
import { openKeystore } from '../../src/keystore/open.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { contiguous, pipelineMessage } from '../../src/pipeline/message.js';
import { splitHeaderBody, splitFields } from '../../src/mime/headers.js';
import { createPeers, type Peers } from '../peers/verifiers.js';
import { splitMultipartSigned } from '../peers/smime-parts.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtureDir = path.join(here, '..', 'fixtures', 'mail');
const leavesScript = path.join(here, '..', 'peers', 'mime-leaves.py');
const mailbox = 'poststelle@stadt.example';
const fixtures = readdirSync(fixtureDir).filter((f) => f.endsWith('.eml')).sort();

/** The fixture with its From header replaced by the enrolled mailbox (the rest byte-exact). */
function fixtureFromMailbox(name: string): Buffer {
  const raw = readFileSync(path.join(fixtureDir, name));
  const text = raw.toString('latin1');
  const replaced = text.replace(/^From:[^\r\n]*(\r?\n[ \t][^\r\n]*)*/im, `From: Poststelle <${mailbox}>`);
  if (replaced === text) throw new Error(`fixture ${name} has no From header`);
  return Buffer.from(replaced, 'latin1');
}

interface Leaf {
  type: string;
  filename: string | null;
  cte: string;
  sha256: string;
  size: number;
}

/** The leaf parts of a message as Python's email package decodes them (content, not encoding). */
function leaves(dir: string, name: string, data: Buffer): Array<Omit<Leaf, 'cte'>> {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  const parsed = JSON.parse(execFileSync('python3', [leavesScript, file]).toString()) as Leaf[];
  return parsed.map(({ cte, ...leaf }) => {
    // Python's parser splits binary bodies into lines and loses CR bytes, so
    // it cannot decode Content-Transfer-Encoding: binary exactly. The only
    // binary part in the fixtures is pixel.png: compare with the file itself.
    if (cte !== 'binary') return leaf;
    const png = readFileSync(path.join(fixtureDir, 'pixel.png'));
    return { ...leaf, sha256: createHash('sha256').update(png).digest('hex'), size: png.length };
  });
}

function outerFieldNames(header: Buffer): string[] {
  return splitFields(header)
    .map((f) => f.raw.toString('latin1'))
    .filter((line) => !/^(content-|mime-version:)/i.test(line));
}

describe.each<KeySpec>(['rsa2048', 'rsa3072', 'p256'])('outbound signing with a %s identity', (keySpec) => {
  let dir: string;
  let keystore: Keystore;
  let peers: Peers;
  let pipeline: ReturnType<typeof createOutboundPipeline>;
  const now = new Date();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), `siegel-outbound-${keySpec}-`));
    const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Test-PKI'], ['CN', 'Test Root']], keySpec: 'rsa3072' });
    const ca = await issueCa(root, { subject: [['C', 'DE'], ['O', 'Test-PKI'], ['CN', 'Test Issuing CA']], keySpec: 'rsa3072' });
    const leaf = await issueMailbox(ca, { subject: [['C', 'DE'], ['O', 'Stadt'], ['CN', 'Poststelle']], email: mailbox, keySpec });
    writeFileSync(path.join(dir, 'master.key'), 'k'.repeat(44), { mode: 0o600 });
    const config = loadConfig({ values: { dataDir: path.join(dir, 'data'), trustAnchors: dir, masterKeyFile: path.join(dir, 'master.key') }, baseDir: dir, env: {} });
    keystore = openKeystore(config, {}, () => now);
    await keystore.importIdentity({ mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [ca.certificate] }, now);
    pipeline = createOutboundPipeline({ config, identities: keystore, now: () => now });
    peers = createPeers(root.certificate);
  });

  afterAll(() => {
    keystore.close();
    peers.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(fixtures)('%s: verifies with OpenSSL, gpgsm and NSS; content and outer headers unchanged', async (name) => {
    const input = fixtureFromMailbox(name);
    const result = await pipeline(pipelineMessage({ mailFrom: mailbox, rcptTo: ['a@example.org'] }, input), 'TEST');
    expect(result.actions.map((a) => `${a.stage}:${a.action}`)).toEqual(['sign:signed', 'encrypt:no-certificate']);
    const output = contiguous(result.message);
    expect(output.length).toBe(result.message.size);

    // The body is 7-bit, CRLF only, no line over 998 octets: what relays carry unchanged.
    // (Outer header fields are not signed and stay as the client wrote them.)
    expect(splitHeaderBody(output).body.every((b) => b < 0x80)).toBe(true);
    expect(output.toString('latin1').replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(Math.max(...output.toString('latin1').split('\r\n').map((l) => l.length))).toBeLessThanOrEqual(998);

    const parts = splitMultipartSigned(output);
    expect(parts.contentType).toMatch(/^multipart\/signed;.*protocol="application\/pkcs7-signature"/);
    expect(parts.contentType).toContain('micalg=sha-256');

    const openssl = peers.openssl(output);
    expect(openssl.stderr).toContain('Verification successful');
    expect(openssl.status).toBe(0);
    expect(openssl.output.equals(parts.entity)).toBe(true);

    const gpgsm = peers.gpgsm(parts.signature, parts.entity);
    expect(gpgsm.stdout).toMatch(/^\[GNUPG:\] GOODSIG /m);
    expect(gpgsm.stdout).toMatch(/^\[GNUPG:\] TRUST_FULLY/m);
    expect(gpgsm.status).toBe(0);

    const nss = peers.nss(parts.signature, parts.entity);
    expect(nss.stdout).toContain('signer0.status=GoodSignature');

    // The outer header fields (From, To, Subject, Date, Message-ID, encoded words...) are kept outside, unchanged.
    const inputHeader = splitHeaderBody(input).header;
    const outputHeader = splitHeaderBody(output).header;
    const normalise = (lines: string[]) => lines.map((l) => l.replace(/\r?\n/g, '\r\n'));
    expect(normalise(outerFieldNames(outputHeader))).toEqual(normalise(outerFieldNames(inputHeader)));

    // Decoding the signed entity gives the same parts with the same bytes as the input.
    expect(leaves(dir, `${name}.entity`, parts.entity)).toEqual(leaves(dir, `${name}.input`, input));
  });

  it('leaves mail from a sender without an identity unchanged, byte for byte', async () => {
    const input = readFileSync(path.join(fixtureDir, 'nested-multipart.eml'));
    const result = await pipeline(pipelineMessage({ mailFrom: 'x@example.org', rcptTo: ['a@example.org'] }, input), 'TEST');
    expect(result.actions[0]?.action).toBe('no-identity');
    expect(contiguous(result.message).equals(input)).toBe(true);
  });

  it('never re-wraps a message the client signed itself', async () => {
    const envelope = { mailFrom: mailbox, rcptTo: ['a@example.org'] };
    const once = await pipeline(pipelineMessage(envelope, fixtureFromMailbox('utf8-8bit.eml')), 'TEST');
    const twice = await pipeline(pipelineMessage(envelope, contiguous(once.message)), 'TEST');
    expect(twice.actions[0]?.action).toBe('client-smime');
    expect(contiguous(twice.message).equals(contiguous(once.message))).toBe(true);
  });
});
