import { getHeader, getHeaders, parseAddressList, splitFields, splitHeaderBody } from '../../src/mime/headers.js';

describe('splitHeaderBody', () => {
  it('splits CRLF input at the empty line, header keeps its last line ending', () => {
    const raw = Buffer.from('A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore');
    const { header, body } = splitHeaderBody(raw);
    expect(header.toString()).toBe('A: 1\r\nB: 2\r\n');
    expect(body.toString()).toBe('body\r\n\r\nmore');
  });

  it('splits LF-only input', () => {
    const { header, body } = splitHeaderBody(Buffer.from('A: 1\n folded\nB: 2\n\nbody\n'));
    expect(header.toString()).toBe('A: 1\n folded\nB: 2\n');
    expect(body.toString()).toBe('body\n');
  });

  it('handles no header, no body, and returns views (no copies)', () => {
    expect(splitHeaderBody(Buffer.from('\r\nbody')).header.length).toBe(0);
    const raw = Buffer.from('A: 1\r\n');
    const { header, body } = splitHeaderBody(raw);
    expect(header.toString()).toBe('A: 1\r\n');
    expect(body.length).toBe(0);
    expect(header.buffer).toBe(raw.buffer);
  });
});

describe('getHeader', () => {
  const header = Buffer.from(
    'Received: one\r\nSubject: folded\r\n  over\r\n\tlines\r\nTO: a@x.de,\r\n b@y.org\r\nReceived: two\r\nX-Utf8: Grüße\r\n\r\nSubject: body, not header\r\n',
  );

  it('unfolds and trims, case-insensitive names, stops at the body', () => {
    expect(getHeader(header, 'subject')).toBe('folded  over\tlines');
    expect(getHeader(header, 'To')).toBe('a@x.de, b@y.org');
    expect(getHeader(header, 'Missing')).toBeUndefined();
    expect(getHeaders(header, 'received')).toEqual(['one', 'two']);
    expect(getHeaders(header, 'subject')).toHaveLength(1);
  });

  it('reads raw UTF-8 (RFC 6532) as UTF-8', () => {
    expect(getHeader(header, 'x-utf8')).toBe('Grüße');
  });

  it('splits fields with their raw bytes', () => {
    const fields = splitFields(header);
    expect(fields.map((f) => f.name)).toEqual(['Received', 'Subject', 'TO', 'Received', 'X-Utf8']);
    expect(fields[1]?.raw.toString()).toBe('Subject: folded\r\n  over\r\n\tlines\r\n');
  });
});

describe('parseAddressList', () => {
  it('returns bare lower-case addresses, groups flattened', () => {
    expect(parseAddressList('"Müller, A." <A@X.de>, b@y.org, Group: c@z.de;')).toEqual(['a@x.de', 'b@y.org', 'c@z.de']);
  });

  it('handles comments, encoded words, empty groups and duplicates', () => {
    expect(
      parseAddressList('=?utf-8?Q?J=C3=BCrgen?= <j@x.de> (Büro), undisclosed-recipients:;, J@X.DE, d@e.org'),
    ).toEqual(['j@x.de', 'd@e.org']);
    expect(parseAddressList('')).toEqual([]);
  });
});
