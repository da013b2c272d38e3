/**
 * Offloading of large attachments end to end, with the real large-file
 * exchange (SQLite metadata, encrypted blobs on disk), the real keystore
 * and OpenSSL as the verifier: the message that leaves is small and
 * signed, the link in it returns exactly the attachment's bytes, and every
 * other byte of the message is kept.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { outboundFilter, EX_DATAERR } from '../../src/commands/outbound.js';
import type { CommandContext } from '../../src/commands/context.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { SiegelError } from '../../src/errors.js';
import { openKeystore } from '../../src/keystore/open.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { silentLogger } from '../../src/log.js';
import { contiguous, pipelineMessage } from '../../src/pipeline/message.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { toPem } from '../../src/pki/pem.js';
import { openTransferService } from '../../src/transfer/open.js';
import type { TransferService } from '../../src/transfer/types.js';
import { AT, mailboxCert, tempDir, testPki } from '../pki/test-pki.js';
import { attachmentPart, mixedMessage, PIXEL_PNG, pythonLeaves, sha256, type PythonLeaf } from './offload-messages.js';

const SENDER = 'planung@stadt.example';
const MB = 1024 * 1024;

class Capture extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function configFor(dir: string, largeFiles: Record<string, unknown> = {}): Config {
  return loadConfig({
    values: {
      dataDir: path.join(dir, 'data'),
      trustAnchors: dir,
      masterKeyFile: path.join(dir, 'master.key'),
      internalDomains: ['stadt.example'],
      web: { publicUrl: 'https://dateien.stadt.example' },
      largeFiles: { minFreeSpace: '1MB', ...largeFiles },
    },
    baseDir: dir,
    env: {},
  });
}

async function download(service: TransferService, url: string): Promise<Buffer> {
  const token = url.slice(url.lastIndexOf('/') + 1);
  const result = await service.download(token, {});
  if (result.status !== 'ok') throw new Error(`download: ${result.status}`);
  const chunks: Buffer[] = [];
  for await (const c of result.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const LINK = /https:\/\/dateien\.stadt\.example\/d\/[A-Za-z0-9_-]+/g;

/** The links in the notes, read from the text/plain leaves as Python decodes them. */
function notes(leaves: readonly PythonLeaf[]): { text: string[]; html: string[]; links: string[] } {
  const text = leaves.filter((l) => l.type === 'text/plain' && l.text?.includes('SHA-256')).map((l) => l.text as string);
  const html = leaves.filter((l) => l.type === 'text/html' && l.text?.includes('SHA-256')).map((l) => l.text as string);
  return { text, html, links: text.map((t) => (t.match(LINK) ?? [])[0] ?? '') };
}

describe('offloading large attachments', () => {
  let dir: string;
  let keystore: Keystore;
  let rootPem: string;

  beforeAll(async () => {
    dir = tempDir('siegel-offload-');
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: SENDER });
    writeFileSync(path.join(dir, 'master.key'), 'k'.repeat(44), { mode: 0o600 });
    rootPem = path.join(dir, 'root.pem');
    writeFileSync(rootPem, toPem('CERTIFICATE', pki.root.certificate));
    const config = configFor(dir);
    keystore = openKeystore(config, {}, () => AT);
    await keystore.importIdentity({ mailbox: SENDER, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [pki.ca.certificate] }, AT);
  });

  afterAll(async () => {
    await keystore.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function opensslVerify(message: Buffer): { status: number | null; stderr: string; content: Buffer } {
    const file = path.join(dir, `verify-${sha256(message).slice(0, 12)}.eml`);
    writeFileSync(file, message);
    const args = ['cms', '-verify', '-CAfile', rootPem, '-purpose', 'smimesign', '-attime', String(AT.getTime() / 1000), '-in', file];
    const result = spawnSync('openssl', args, { maxBuffer: 64 * MB });
    return { status: result.status, stderr: result.stderr.toString(), content: result.stdout };
  }

  it('siegel outbound: a 30 MB attachment leaves as a link in a small signed message; the link returns the exact bytes', async () => {
    const file = randomBytes(30 * MB);
    const input = mixedMessage({
      from: SENDER,
      text: 'Guten Tag, anbei die Plaene.',
      attachments: [
        { name: 'Lageplan.png', content: PIXEL_PNG, contentType: 'image/png', disposition: 'inline', contentId: 'lageplan@stadt.example' },
        { name: 'Bauplan Erdgeschoß – Straße 3.pdf', content: file, contentType: 'application/pdf', nameStyle: 'rfc2231' },
      ],
    });
    expect(input.length).toBeGreaterThan(40 * MB);
    const config = configFor(dir);
    const stdout = new Capture();
    const stderr = new Capture();
    const logLines = new Capture();
    const { pino } = await import('pino');
    const ctx: CommandContext = {
      config,
      stdin: Readable.from([input]),
      stdout,
      stderr,
      env: {},
      logger: pino({ level: 'info' }, logLines),
      now: () => AT,
    };
    expect(await outboundFilter(ctx, {})).toBe(0);
    expect(stderr.bytes().toString()).toBe('');
    const output = stdout.bytes();
    expect(output.length).toBeLessThan(100 * 1024);
    expect(output.toString('latin1')).toMatch(/^Content-Type: multipart\/signed;.*protocol="application\/pkcs7-signature"/im);

    const verified = opensslVerify(output);
    expect(verified.stderr).toContain('Verification successful');
    expect(verified.status).toBe(0);

    // The signed content: the body, the inline image (its part byte for byte) and the note.
    const entity = verified.content;
    const imagePart = attachmentPart({ name: 'Lageplan.png', content: PIXEL_PNG, contentType: 'image/png', disposition: 'inline', contentId: 'lageplan@stadt.example' });
    expect(entity.includes(imagePart)).toBe(true);
    const { leaves } = pythonLeaves(dir, entity);
    expect(leaves.map((l) => l.type)).toEqual(['text/plain', 'image/png', 'text/plain', 'text/html']);
    expect(leaves[1]?.sha256).toBe(sha256(PIXEL_PNG));
    const note = notes(leaves);
    expect(note.links).toHaveLength(1);
    const link = note.links[0] as string;
    for (const needle of ['Bauplan Erdgeschoß – Straße 3.pdf', '30,0 MB', '30.0 MB', sha256(file), '15.01.2027, 00:00 UTC', '2027-01-15 00:00 UTC', link]) {
      expect(note.text[0]).toContain(needle);
    }
    for (const needle of ['Bauplan Erdgeschoß – Straße 3.pdf', '30,0 MB', sha256(file), '15.01.2027, 00:00 UTC', `href="${link}"`]) {
      expect(note.html[0]).toContain(needle);
    }

    // The log line says how many files and bytes, never their names or links.
    const log = logLines.bytes().toString();
    expect(log).toContain('"offload":{"attachments":1,"bytes":31457280}');
    expect(log).toContain('"offload:offloaded"');
    expect(log).not.toContain('Bauplan');
    expect(log).not.toContain(link.slice(link.lastIndexOf('/') + 1));

    const service = openTransferService(config, { logger: silentLogger(), now: () => AT });
    try {
      const downloaded = await download(service, link);
      expect(downloaded.length).toBe(file.length);
      expect(sha256(downloaded)).toBe(sha256(file));
      const [share] = await service.list({ owner: SENDER });
      expect(share).toMatchObject({ owner: SENDER, fileName: 'Bauplan Erdgeschoß – Straße 3.pdf', contentType: 'application/pdf', origin: 'offload', size: file.length });
    } finally {
      await service.close();
    }
  });

  describe('in the pipeline', () => {
    let config: Config;
    let service: TransferService;
    let pipeline: ReturnType<typeof createOutboundPipeline>;
    const threshold = 1 * MB;

    beforeAll(() => {
      const serviceDir = tempDir('siegel-offload-pipeline-');
      writeFileSync(path.join(serviceDir, 'master.key'), 'k'.repeat(44), { mode: 0o600 });
      config = configFor(serviceDir, { threshold: '1MB', ownerQuota: '5MB' });
      service = openTransferService(config, { logger: silentLogger(), now: () => AT });
      pipeline = createOutboundPipeline({ config, identities: keystore, now: () => AT, transfer: service });
      dirs.push(serviceDir);
    });
    const dirs: string[] = [];
    afterAll(async () => {
      await service.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    const run = async (input: Buffer, from = SENDER) => {
      const result = await pipeline(pipelineMessage({ mailFrom: from, rcptTo: ['partner@example.org'] }, input), 'TEST');
      return { output: contiguous(result.message), actions: result.actions };
    };

    it('keeps an attachment of exactly the threshold inline and byte-identical; one byte more leaves as a link', async () => {
      const atThreshold = randomBytes(threshold);
      const above = randomBytes(threshold + 1);
      const unsignedSender = 'kasse@stadt.example'; // no identity: what leaves is unsigned, so bytes can be compared directly
      const small = mixedMessage({ from: unsignedSender, attachments: [{ name: 'exakt.bin', content: atThreshold }] });
      const kept = await run(small, unsignedSender);
      expect(kept.actions[0]).toEqual({ stage: 'offload', action: 'none' });
      expect(kept.output.equals(small)).toBe(true);

      const mixed = mixedMessage({ from: unsignedSender, attachments: [{ name: 'exakt.bin', content: atThreshold }, { name: 'groesser.bin', content: above }] });
      const { output, actions } = await run(mixed, unsignedSender);
      expect(actions[0]).toEqual({ stage: 'offload', action: 'offloaded', detail: { attachments: 1, bytes: threshold + 1 } });
      // Everything up to the large part's header, and the closing boundary after it, are the input's bytes.
      const largeStart = mixed.indexOf(attachmentPart({ name: 'groesser.bin', content: above }));
      expect(largeStart).toBeGreaterThan(0);
      expect(output.subarray(0, largeStart).equals(mixed.subarray(0, largeStart))).toBe(true);
      expect(output.subarray(output.length - 30).equals(mixed.subarray(mixed.length - 30))).toBe(true);
      const { leaves } = pythonLeaves(dirs[0] as string, output);
      expect(leaves.map((l) => [l.type, l.filename])).toEqual([
        ['text/plain', null],
        ['application/octet-stream', 'exakt.bin'],
        ['text/plain', null],
        ['text/html', null],
      ]);
      expect(leaves[1]?.sha256).toBe(sha256(atThreshold));
      const [link] = notes(leaves).links;
      expect(sha256(await download(service, link as string))).toBe(sha256(above));
    });

    it('two large attachments with Unicode, RFC 2231 continued and RFC 2047 names: two links, each to its file', async () => {
      const first = randomBytes(threshold + 1000);
      const second = randomBytes(threshold + 2000);
      const names = ['Übersichtsplan Baugebiet „Am Mühlbach“ – Nordabschnitt 2026 北京.pdf', 'Straßenquerschnitt Ä.tif'];
      const input = mixedMessage({
        from: SENDER,
        attachments: [
          { name: names[0] as string, content: first, contentType: 'application/pdf', nameStyle: 'rfc2231-continued' },
          { name: names[1] as string, content: second, contentType: 'image/tiff', encoding: 'quoted-printable', nameStyle: 'rfc2047' },
        ],
      });
      const { output, actions } = await run(input);
      expect(actions.map((a) => `${a.stage}:${a.action}`)).toEqual(['offload:offloaded', 'sign:signed', 'encrypt:no-certificate']);
      expect(actions[0]?.detail).toEqual({ attachments: 2, bytes: first.length + second.length });
      expect(output.length).toBeLessThan(64 * 1024);
      const verified = opensslVerify(output);
      expect(verified.status).toBe(0);
      const note = notes(pythonLeaves(dirs[0] as string, verified.content).leaves);
      expect(note.links).toHaveLength(2);
      expect(new Set(note.links).size).toBe(2);
      expect(note.text[0]).toContain(names[0]);
      expect(note.text[1]).toContain(names[1]);
      expect(note.html[0]).toContain(names[0]);
      expect(sha256(await download(service, note.links[0] as string))).toBe(sha256(first));
      expect(sha256(await download(service, note.links[1] as string))).toBe(sha256(second));
      const shares = await service.list({ owner: SENDER });
      expect(shares.map((s) => s.fileName)).toEqual(expect.arrayContaining(names));
    });

    it('an LF-only message gets an LF-only note', async () => {
      const unsignedSender = 'kasse@stadt.example';
      const input = Buffer.from(mixedMessage({ from: unsignedSender, attachments: [{ name: 'lf.bin', content: randomBytes(threshold + 1) }] }).toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
      const { output, actions } = await run(input, unsignedSender);
      expect(actions[0]?.action).toBe('offloaded');
      expect(output.includes('\r')).toBe(false);
      expect(notes(pythonLeaves(dirs[0] as string, output).leaves).links).toHaveLength(1);
    });

    it('a message that is one attachment becomes the note, its own header fields kept', async () => {
      const unsignedSender = 'kasse@stadt.example';
      const file = randomBytes(threshold + 10);
      const header = `From: Kasse <${unsignedSender}>\r\nTo: partner@example.org\r\nSubject: Scan\r\nMIME-Version: 1.0\r\n`;
      const input = Buffer.concat([Buffer.from(header, 'latin1'), attachmentPart({ name: 'scan.pdf', content: file, contentType: 'application/pdf' }), Buffer.from('\r\n')]);
      const { output, actions } = await run(input, unsignedSender);
      expect(actions[0]?.action).toBe('offloaded');
      expect(output.toString('latin1').startsWith(`${header}Content-Type: multipart/alternative;`)).toBe(true);
      const { leaves } = pythonLeaves(dirs[0] as string, output);
      expect(leaves.map((l) => l.type)).toEqual(['text/plain', 'text/html']);
      expect(sha256(await download(service, notes(leaves).links[0] as string))).toBe(sha256(file));
    });

    it('leaves client-signed mail and mail of external senders untouched, and says why', async () => {
      const inner = mixedMessage({ from: SENDER, attachments: [{ name: 'gross.bin', content: randomBytes(threshold + 1) }], boundary: 'inner' });
      const innerEntity = inner.subarray(inner.indexOf('Content-Type: multipart/mixed'));
      const signed = Buffer.concat([
        Buffer.from(`From: ${SENDER}\r\nTo: partner@example.org\r\nSubject: signed by the client\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s"\r\n\r\n--s\r\n`, 'latin1'),
        innerEntity,
        Buffer.from('\r\n--s\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIB\r\n--s--\r\n', 'latin1'),
      ]);
      const clientSigned = await run(signed);
      expect(clientSigned.actions[0]).toEqual({ stage: 'offload', action: 'skipped', detail: { reason: 'client-smime', form: 'signed' } });
      expect(clientSigned.output.equals(signed)).toBe(true);

      const external = mixedMessage({ from: 'someone@example.org', attachments: [{ name: 'gross.bin', content: randomBytes(threshold + 1) }] });
      const fromOutside = await run(external, 'someone@example.org');
      expect(fromOutside.actions[0]).toEqual({ stage: 'offload', action: 'skipped', detail: { reason: 'sender-not-internal' } });
      expect(fromOutside.output.equals(external)).toBe(true);
    });

    it('refuses the message with the catalog error when the quota is exceeded, and revokes links already made', async () => {
      const owner = 'bauamt@stadt.example';
      const input = mixedMessage({ from: owner, attachments: [{ name: 'a.bin', content: randomBytes(3 * MB) }, { name: 'b.bin', content: randomBytes(3 * MB) }] });
      const failure = await run(input, owner).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(SiegelError);
      expect((failure as SiegelError).code).toBe('QUOTA_EXCEEDED');
      const left = await service.list({ owner, includeInactive: true });
      expect(left.map((s) => [s.fileName, s.state])).toEqual([['a.bin', 'revoked']]);
      expect(await service.list({ owner })).toEqual([]);
    });

    it('siegel outbound exits with EX_DATAERR and writes nothing when the file cannot be stored', async () => {
      const stdout = new Capture();
      const stderr = new Capture();
      const ctx: CommandContext = {
        config: { ...config, largeFiles: { ...config.largeFiles, ownerQuota: 512 * 1024 } },
        stdin: Readable.from([mixedMessage({ from: SENDER, attachments: [{ name: 'x.bin', content: randomBytes(threshold + 1) }] })]),
        stdout,
        stderr,
        env: {},
        logger: silentLogger(),
        now: () => AT,
      };
      expect(await outboundFilter(ctx, {})).toBe(EX_DATAERR);
      expect(stdout.bytes().length).toBe(0);
      expect(stderr.bytes().toString()).toMatch(/quota/i);
    });
  });
});
