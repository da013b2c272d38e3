// Who is who in the soak: the administration's domain and mailboxes, the
// partners, the outside world. Plain data, shared by the set-up, the
// message mix and the checks (no dist/ import: the checks load without a build).
export const INTERNAL_DOMAIN = 'stadt.example';
export const AUTHSERV_ID = 'soak.stadt.example';

/** Enrolled internal mailboxes: their outbound mail is signed (RSA 3072 as Bayern-PKI 2.0 asks, and one P-256). */
export const ENROLLED = [
  { address: `poststelle@${INTERNAL_DOMAIN}`, keySpec: 'rsa3072' },
  { address: `bauamt@${INTERNAL_DOMAIN}`, keySpec: 'rsa3072' },
  { address: `ratsbuero@${INTERNAL_DOMAIN}`, keySpec: 'p256' },
];
/** Internal senders without an identity: their outbound mail passes unchanged. */
export const UNENROLLED = [`hausmeister@${INTERNAL_DOMAIN}`, `kantine@${INTERNAL_DOMAIN}`];
/** Internal recipients of inbound mail. */
export const INTERNAL_RECIPIENTS = [`poststelle@${INTERNAL_DOMAIN}`, `bauamt@${INTERNAL_DOMAIN}`, `anna.berger@${INTERNAL_DOMAIN}`];
/** External recipients whose certificate nobody knows: signed only. */
export const UNKNOWN_EXTERNAL = ['buerger@elsewhere.example', 'firma@elsewhere.example', 'verein@other.example'];
/** Partners: their certificates are imported (mail to them is encrypted) and they send signed mail in. */
export const PARTNERS = [
  { address: 'amt@partner.example', keySpec: 'rsa3072' },
  { address: 'kreis@partner.example', keySpec: 'p256' },
];
