import { quotedPrintableLength, writeQuotedPrintable } from '../../src/mime/quoted-printable.js';

function qp(text: string): string {
  const chunks = [Buffer.from(text, 'utf8')];
  const out = Buffer.alloc(quotedPrintableLength(chunks, { text: true }));
  writeQuotedPrintable(chunks, { text: true }, out, 0);
  return out.toString('latin1');
}

describe('quoted-printable at line starts', () => {
  it('never lets a soft line break put "--" at the start of a line, where it could read as a MIME boundary', () => {
    // 8-bit text forces quoted-printable; the long line makes soft breaks land everywhere.
    for (let pad = 60; pad < 80; pad++) {
      const encoded = qp(`ä${'x'.repeat(pad)}--b1 rest of the line\r\n`);
      for (const line of encoded.split('\r\n')) expect(line.startsWith('-')).toBe(false);
    }
  });

  it('encodes "-", "F" and "." at the start of a line and keeps them elsewhere', () => {
    expect(qp('ä\r\n--x\r\nFrom y\r\n.z\r\na-F.\r\n')).toBe('=C3=A4\r\n=2D-x\r\n=46rom y\r\n=2Ez\r\na-F.\r\n');
  });
});
