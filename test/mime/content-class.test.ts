import { prepareForSigning } from '../../src/mime/prepare-for-signing.js';

const limits = { maxDepth: 50, maxParts: 1000, maxHeaderSize: 1024 * 1024 };

describe('message-level Content-* fields', () => {
  it("keeps Outlook's Content-Class outside the signed entity, with the other message fields", async () => {
    const raw = Buffer.from(
      'From: a@stadt.example\r\nTo: b@example.org\r\nSubject: Termin\r\nContent-Class: urn:content-classes:calendarmessage\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Language: de-DE\r\n\r\nEinladung\r\n',
    );
    const prepared = await prepareForSigning(raw, limits);
    const outer = prepared.outerHeaders.toString('latin1');
    const entity = Buffer.concat(prepared.entity).toString('latin1');
    expect(outer).toContain('Content-Class: urn:content-classes:calendarmessage\r\n');
    expect(entity).not.toContain('Content-Class');
    expect(entity.startsWith('Content-Type: text/plain; charset=us-ascii\r\nContent-Language: de-DE\r\n\r\n')).toBe(true);
  });
});
