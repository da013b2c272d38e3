/**
 * Reading CMS enveloping structures from untrusted BER (NSS and gpgsm send
 * indefinite lengths and chunked OCTET STRINGs) with asn1js under explicit
 * caps. Every accessor throws EnvelopeError('malformed') instead of
 * returning undefined, so the decrypting code reads as the ASN.1 it follows.
 */
import * as asn1js from 'asn1js';
import { EnvelopeError, malformed } from './envelope-errors.js';

export type Node = asn1js.AsnType;

export interface ParseLimits {
  /** Largest DER accepted (bytes). */
  readonly maxBytes: number;
  /** Node count cap; chunked contents need one node per chunk. */
  readonly maxNodes: number;
  readonly maxDepth: number;
}

export function parse(der: Uint8Array, limits: ParseLimits, what: string): Node {
  if (der.byteLength > limits.maxBytes) throw new EnvelopeError('too-large', `${what} exceeds ${limits.maxBytes} bytes`);
  let parsed: asn1js.FromBerResult;
  try {
    parsed = asn1js.fromBER(der, { maxContentLength: limits.maxBytes, maxNodes: limits.maxNodes, maxDepth: limits.maxDepth });
  } catch {
    throw malformed(`${what} is not BER`);
  }
  if (parsed.offset === -1 || parsed.result.error) throw malformed(`${what} is not BER (${parsed.result.error || 'parse error'})`);
  return parsed.result;
}

const UNIVERSAL = 1;
const CONTEXT = 3;

export function isContext(node: Node | undefined, tagNumber: number): boolean {
  return node !== undefined && node.idBlock.tagClass === CONTEXT && node.idBlock.tagNumber === tagNumber;
}

function isUniversal(node: Node | undefined, tagNumber: number): boolean {
  return node !== undefined && node.idBlock.tagClass === UNIVERSAL && node.idBlock.tagNumber === tagNumber;
}

/** Children of a constructed node (SEQUENCE, SET or a constructed context tag). */
export function children(node: Node | undefined, what: string): Node[] {
  if (node === undefined || !node.idBlock.isConstructed) throw malformed(`${what} is not constructed`);
  const value: unknown = (node.valueBlock as { value?: unknown }).value;
  if (!Array.isArray(value)) throw malformed(`${what} has no elements`);
  return (value as Node[]).filter((child) => !(child instanceof asn1js.EndOfContent));
}

export function sequenceItems(node: Node | undefined, what: string): Node[] {
  if (!isUniversal(node, 16)) throw malformed(`${what} is not a SEQUENCE`);
  return children(node, what);
}

export function setItems(node: Node | undefined, what: string): Node[] {
  if (!isUniversal(node, 17)) throw malformed(`${what} is not a SET`);
  return children(node, what);
}

export function oidOf(node: Node | undefined, what: string): string {
  if (!(node instanceof asn1js.ObjectIdentifier)) throw malformed(`${what} is not an OBJECT IDENTIFIER`);
  return node.getValue();
}

export function smallInteger(node: Node | undefined, what: string): number {
  if (!(node instanceof asn1js.Integer)) throw malformed(`${what} is not an INTEGER`);
  const bytes = node.valueBlock.valueHexView;
  if (bytes.length === 0 || bytes.length > 4) throw malformed(`${what} is out of range`);
  return node.valueBlock.valueDec;
}

/** The exact encoding of a node as it arrived. */
export function raw(node: Node): Buffer {
  return Buffer.from(node.valueBeforeDecodeView);
}

/**
 * Contents of an OCTET STRING, primitive or constructed (BER chunks,
 * possibly nested), also under an IMPLICIT context tag.
 */
export function octets(node: Node | undefined, what: string): Buffer {
  if (node === undefined) throw malformed(`${what} is missing`);
  if (node.idBlock.isConstructed) {
    const parts = children(node, what).map((child) => {
      if (!child.idBlock.isConstructed && !isUniversal(child, 4)) throw malformed(`${what} has a chunk that is not an OCTET STRING`);
      return octets(child, what);
    });
    return Buffer.concat(parts);
  }
  if (node.idBlock.tagClass === UNIVERSAL && node.idBlock.tagNumber !== 4) throw malformed(`${what} is not an OCTET STRING`);
  const view = (node.valueBlock as { valueHexView?: Uint8Array }).valueHexView;
  if (!(view instanceof Uint8Array)) throw malformed(`${what} has no value`);
  return Buffer.from(view);
}

/** Contents of a BIT STRING without unused bits (public keys). */
export function bitStringBytes(node: Node | undefined, what: string): Buffer {
  if (!(node instanceof asn1js.BitString) || node.valueBlock.isConstructed) throw malformed(`${what} is not a BIT STRING`);
  if (node.valueBlock.unusedBits !== 0) throw malformed(`${what} has unused bits`);
  return Buffer.from(node.valueBlock.valueHexView);
}

export interface AlgorithmIdentifier {
  readonly oid: string;
  /** Parameters node, undefined when absent. */
  readonly parameters: Node | undefined;
}

export function algorithmIdentifier(node: Node | undefined, what: string): AlgorithmIdentifier {
  const items = sequenceItems(node, what);
  if (items.length < 1 || items.length > 2) throw malformed(`${what} has ${items.length} elements`);
  return { oid: oidOf(items[0], `${what} algorithm`), parameters: items[1] };
}

export function isNullOrAbsent(node: Node | undefined): boolean {
  return node === undefined || node instanceof asn1js.Null;
}

/** IssuerAndSerialNumber as [issuer Name bytes, serial INTEGER bytes]. */
export interface IssuerSerial {
  readonly issuer: Buffer;
  readonly serialNumber: Buffer;
}

export function issuerAndSerial(node: Node | undefined, what: string): IssuerSerial {
  const items = sequenceItems(node, what);
  const [issuer, serial] = items;
  if (items.length !== 2 || !isUniversal(issuer, 16) || !(serial instanceof asn1js.Integer)) throw malformed(`${what} is not IssuerAndSerialNumber`);
  return { issuer: raw(issuer as Node), serialNumber: raw(serial) };
}
