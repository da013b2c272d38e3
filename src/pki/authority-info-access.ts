/**
 * The authorityInfoAccess extension (RFC 5280 section 4.2.2.1): where a
 * certificate's issuer can be downloaded (caIssuers) and where its OCSP
 * responder listens (ocsp). Only URIs are returned; LDAP and other general
 * names are left to callers that can use them.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { readCertificate } from './path-validation.js';

export const AIA = {
  extension: '1.3.6.1.5.5.7.1.1',
  ocsp: '1.3.6.1.5.5.7.48.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
} as const;

/** URIs listed for `method` (AIA.caIssuers or AIA.ocsp), in certificate order; [] when absent or unreadable. */
export function accessLocations(certificate: Buffer, method: string): string[] {
  try {
    // The parsed certificate is memoised by content: a partner's certificate arrives with every message.
    const cert = readCertificate(certificate)?.cert;
    const ext = cert?.extensions?.find((e) => e.extnID === AIA.extension);
    if (!ext) return [];
    const info = ext.parsedValue instanceof pkijs.InfoAccess ? ext.parsedValue : infoAccessOf(ext);
    if (!info) return [];
    return info.accessDescriptions
      .filter((d) => d.accessMethod === method && d.accessLocation.type === 6 && typeof d.accessLocation.value === 'string')
      .map((d) => d.accessLocation.value as string);
  } catch {
    // A damaged extension means no location, not a failure: the caller reports what it could not find.
    return [];
  }
}

function infoAccessOf(ext: pkijs.Extension): pkijs.InfoAccess | undefined {
  const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  return parsed.offset === -1 ? undefined : new pkijs.InfoAccess({ schema: parsed.result });
}
