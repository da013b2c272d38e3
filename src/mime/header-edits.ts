/**
 * The few header changes canonicalisation makes to a part: set its
 * Content-Transfer-Encoding, declare a charset, add a Content-Type (or
 * MIME-Version to an embedded message). Every other field keeps its bytes.
 */
import type { HeaderField } from './headers.js';

function field(name: string, value: string): HeaderField {
  return { name, raw: Buffer.from(`${name}: ${value}\r\n`, 'latin1') };
}

function is(f: HeaderField, lowerName: string): boolean {
  return f.name.toLowerCase() === lowerName;
}

export function hasField(fields: readonly HeaderField[], lowerName: string): boolean {
  return fields.some((f) => is(f, lowerName));
}

/** Replaces the first field of that name (dropping duplicates) or appends it. */
export function setField(fields: readonly HeaderField[], name: string, value: string): HeaderField[] {
  const lower = name.toLowerCase();
  const out: HeaderField[] = [];
  let done = false;
  for (const f of fields) {
    if (!is(f, lower)) out.push(f);
    else if (!done) {
      out.push(field(f.name, value));
      done = true;
    }
  }
  if (!done) out.push(field(name, value));
  return out;
}

/** Prepends a field (a Content-Type that was missing goes first, where readers expect it). */
export function prependField(fields: readonly HeaderField[], name: string, value: string): HeaderField[] {
  return [field(name, value), ...fields];
}

/**
 * Appends `; name=value` to the first field of that name, keeping its bytes
 * (and folding) up to there; starts a folded line if the last line is long.
 */
export function addParameter(fields: readonly HeaderField[], lowerName: string, param: string): HeaderField[] {
  let done = false;
  return fields.map((f) => {
    if (done || !is(f, lowerName)) return f;
    done = true;
    let end = f.raw.length;
    if (f.raw[end - 1] === 0x0a) end--;
    if (f.raw[end - 1] === 0x0d) end--;
    const body = f.raw.subarray(0, end);
    const lastLine = body.length - (body.lastIndexOf(0x0a) + 1);
    // "text/plain;" already ends in a separator: do not write an empty parameter
    const hasSemicolon = /;[ \t]*$/.test(body.toString('latin1'));
    const fold = lastLine + param.length + 2 > 76;
    const sep = (hasSemicolon ? '' : ';') + (fold ? '\r\n ' : hasSemicolon ? '' : ' ');
    return { name: f.name, raw: Buffer.concat([body, Buffer.from(`${sep}${param}\r\n`, 'latin1')]) };
  });
}
