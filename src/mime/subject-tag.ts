/**
 * Puts a verdict tag such as "[Signatur geprüft]" in front of the Subject,
 * for clients that show no headers. The original value keeps its bytes
 * (encoded words and folding included); a non-ASCII tag becomes an encoded
 * word that carries its trailing space, because white space between two
 * encoded words disappears when they are decoded (RFC 2047 section 6.2).
 */
import { encodeWords, hasEightBit } from './encoded-words.js';
import { fieldValue, type HeaderField } from './headers.js';

/** The Subject field with the tag in front; undefined when the subject already starts with it. */
export function taggedSubject(subject: HeaderField | undefined, tag: string): Buffer | undefined {
  const clean = tag.replace(/[\r\n]+/g, ' ').trim();
  if (clean === '') return undefined;
  const current = subject ? fieldValue(subject) : '';
  // The space goes inside the encoded word only where the subject starts with one; before plain text it would double.
  const spaceInside = current.startsWith('=?');
  const encoded = (text: string): string => (hasEightBit(clean) ? encodeWords(Buffer.from(text, 'utf8'), 'UTF-8').join(' ') + ' ' : `${clean} `);
  const encodedTag = encoded(spaceInside ? `${clean} ` : clean);
  if (!subject) return Buffer.from(`Subject: ${encodedTag.trimEnd()}\r\n`, 'latin1');
  if (current.startsWith(clean) || [encoded(`${clean} `), encoded(clean)].some((t) => current.startsWith(t.trimEnd()))) return undefined;
  const colon = subject.raw.indexOf(0x3a);
  let valueStart = colon + 1;
  while (subject.raw[valueStart] === 0x20 || subject.raw[valueStart] === 0x09) valueStart++;
  return Buffer.concat([Buffer.from(`${subject.name}: ${encodedTag}`, 'latin1'), subject.raw.subarray(valueStart)]);
}
