import { foldField } from '../../src/mime/header-encoding.js';

describe('foldField on hostile input', () => {
  it.each([
    ['no whitespace', `X-Long: ${'a'.repeat(1_000_000)}`],
    ['only whitespace', `X-Long: ${' '.repeat(1_000_000)}`],
    ['many words', `X-Long: ${'wort '.repeat(200_000)}`],
  ])('folds a 1 MB field (%s) into lines of at most 998 octets, keeping every character, in linear time', (_name, line) => {
    const started = Date.now();
    const folded = foldField(line);
    // A quadratic fold took seconds per megabyte and stalled the event loop; linear takes milliseconds.
    expect(Date.now() - started).toBeLessThan(5000);
    const lines = folded.split('\r\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(998);
    const nonSpace = (s: string) => s.replace(/[ \t\r\n]/g, '');
    expect(nonSpace(folded)).toBe(nonSpace(line));
    expect(folded.endsWith('\r\n')).toBe(true);
  });
});
