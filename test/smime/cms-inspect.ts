/**
 * Test-side reader for our SignedData: walks the DER with asn1js and keeps
 * the raw octets of every piece, so tests can compare encodings byte for
 * byte instead of trusting a re-serialising object model.
 */
import * as asn1js from 'asn1js';

export interface InspectedAttribute {
  readonly type: string;
  /** The whole Attribute encoding. */
  readonly raw: Buffer;
  /** Each AttributeValue's encoding. */
  readonly values: readonly Buffer[];
}

export interface InspectedSignedData {
  readonly contentType: string;
  readonly version: number;
  readonly digestAlgorithms: readonly Buffer[];
  readonly eContentType: string;
  readonly eContent: Buffer | undefined;
  readonly certificates: readonly Buffer[];
  readonly signerInfoCount: number;
  readonly signer: {
    readonly version: number;
    readonly sid: Buffer;
    readonly digestAlgorithm: Buffer;
    /** signedAttrs exactly as carried in SignerInfo ([0] IMPLICIT). */
    readonly signedAttrsField: Buffer;
    readonly attributes: readonly InspectedAttribute[];
    readonly signatureAlgorithm: Buffer;
    readonly signature: Buffer;
  };
}

export function raw(block: asn1js.AsnType): Buffer {
  return Buffer.from(block.valueBeforeDecodeView);
}

export function children(block: asn1js.AsnType | undefined): asn1js.AsnType[] {
  if (!(block instanceof asn1js.Constructed)) throw new Error('expected a constructed value');
  return block.valueBlock.value as asn1js.AsnType[];
}

export function at(list: readonly asn1js.AsnType[], index: number): asn1js.AsnType {
  const item = list[index];
  if (!item) throw new Error(`missing element ${index}`);
  return item;
}

export function parseDer(der: Uint8Array): asn1js.AsnType {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) throw new Error(`not BER: ${parsed.result.error}`);
  if (parsed.offset !== der.byteLength) throw new Error('trailing bytes after the DER value');
  return parsed.result as asn1js.AsnType;
}

export function oidOf(block: asn1js.AsnType | undefined): string {
  if (!(block instanceof asn1js.ObjectIdentifier)) throw new Error('expected an OBJECT IDENTIFIER');
  return block.getValue();
}

function integerOf(block: asn1js.AsnType | undefined): number {
  if (!(block instanceof asn1js.Integer)) throw new Error('expected an INTEGER');
  return block.valueBlock.valueDec;
}

function octets(block: asn1js.AsnType): Buffer {
  if (!(block instanceof asn1js.OctetString) || block.idBlock.isConstructed) throw new Error('expected a primitive OCTET STRING');
  return Buffer.from(block.valueBlock.valueHexView);
}

function isContext(block: asn1js.AsnType | undefined, tag: number): boolean {
  return block !== undefined && block.idBlock.tagClass === 3 && block.idBlock.tagNumber === tag;
}

export function inspectSignedData(der: Buffer): InspectedSignedData {
  const contentInfo = children(parseDer(der));
  const signedData = children(at(children(at(contentInfo, 1)), 0));
  const encap = children(at(signedData, 2));
  let next = 3;
  let certificates: Buffer[] = [];
  if (isContext(signedData[next], 0)) {
    certificates = children(at(signedData, next)).map(raw);
    next++;
  }
  const signerInfos = children(at(signedData, next));
  const si = children(at(signerInfos, 0));
  const signedAttrsField = at(si, 3);
  if (!isContext(signedAttrsField, 0)) throw new Error('SignerInfo has no signedAttrs');
  const attributes = children(signedAttrsField).map((attr) => {
    const [type, values] = children(attr);
    return { type: oidOf(type), raw: raw(attr), values: children(values).map(raw) };
  });
  const eContent = encap[1];
  const signature = at(si, 5);
  if (!(signature instanceof asn1js.OctetString)) throw new Error('signature is not an OCTET STRING');
  return {
    contentType: oidOf(contentInfo[0]),
    version: integerOf(signedData[0]),
    digestAlgorithms: children(at(signedData, 1)).map(raw),
    eContentType: oidOf(encap[0]),
    eContent: eContent ? octets(at(children(eContent), 0)) : undefined,
    certificates,
    signerInfoCount: signerInfos.length,
    signer: {
      version: integerOf(si[0]),
      sid: raw(at(si, 1)),
      digestAlgorithm: raw(at(si, 2)),
      signedAttrsField: raw(signedAttrsField),
      attributes,
      signatureAlgorithm: raw(at(si, 4)),
      signature: Buffer.from(signature.valueBlock.valueHexView),
    },
  };
}

export function attributeValue(inspected: InspectedSignedData, type: string): Buffer | undefined {
  const found = inspected.signer.attributes.filter((a) => a.type === type);
  if (found.length > 1) throw new Error(`attribute ${type} occurs ${found.length} times`);
  const [attr] = found;
  if (!attr) return undefined;
  if (attr.values.length !== 1) throw new Error(`attribute ${type} has ${attr.values.length} values`);
  return attr.values[0];
}
