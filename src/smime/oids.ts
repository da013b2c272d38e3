/** Object identifiers used when writing S/MIME SignedData, named after their RFCs. */
export const OID = {
  // RFC 5652 content types
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',

  // RFC 5652 / PKCS #9 signed attributes
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  smimeCapabilities: '1.2.840.113549.1.9.15',
  /** RFC 8551 2.5.3 id-aa-encrypKeyPref. */
  smimeEncryptionKeyPreference: '1.2.840.113549.1.9.16.2.11',
  /** RFC 5035 id-aa-signingCertificateV2. */
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  /** szOID_MICROSOFT_Encryption_Key_Preference: Outlook picks the reply encryption certificate by it. */
  microsoftEncryptionKeyPreference: '1.3.6.1.4.1.311.16.4',

  // digests (RFC 5754)
  sha256: '2.16.840.1.101.3.4.2.1',

  // signature algorithms
  /** RFC 3370 3.2: rsaEncryption as CMS signatureAlgorithm, what OpenSSL writes. */
  rsaEncryption: '1.2.840.113549.1.1.1',
  /** RFC 5753 / RFC 5758. */
  ecdsaWithSha256: '1.2.840.10045.4.3.2',

  // content encryption (RFC 5084, RFC 3565) and key transport (RFC 3560/4055)
  aes128Gcm: '2.16.840.1.101.3.4.1.6',
  aes256Gcm: '2.16.840.1.101.3.4.1.46',
  aes128Cbc: '2.16.840.1.101.3.4.1.2',
  aes192Cbc: '2.16.840.1.101.3.4.1.22',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
} as const;
