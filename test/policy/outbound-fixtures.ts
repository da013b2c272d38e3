/**
 * The policy the outbound policy tests run under, and a message to send.
 * First match wins, so the order of the rules matters: senders first, then
 * recipients.
 */
import { lines, policyDir } from './policy-dir.js';

export const STAFF = 'amt@stadt.example';
export const NEWSLETTER = 'newsletter@stadt.example';
export const CLERK = 'sachbearbeiter@stadt.example';
export const POSTSTELLE = 'poststelle@stadt.example';
export const TAX = 'steuer@stadt.example';
export const UNENROLLED = 'jemand@stadt.example';

/** Mailboxes the gateway holds identities for (the clerk signs as the Poststelle, has none of its own). */
export const ENROLLED = [STAFF, NEWSLETTER, POSTSTELLE] as const;

export const PARTNER_WITH_CERT = 'rat@partner.example';
export const PARTNER_WITHOUT_CERT = 'neu@partner.example';
export const CLEAR_WITH_CERT = 'ec@klartext.example';
export const CITIZEN = 'buerger@example.org';

export const RULES = {
  newsletter: 'newsletters are never signed',
  clerk: 'clerks sign as the Poststelle',
  tax: 'tax office never in clear',
  jemand: 'everyone signs',
  partner: 'partner authorities',
  clear: 'this partner reads no S/MIME',
} as const;

export function outboundPolicyDir(): string {
  return policyDir({
    '10-senders.yaml': lines(
      'rules:',
      `  - name: ${RULES.newsletter}`,
      `    match: { direction: outbound, from: [${NEWSLETTER}] }`,
      '    sign: never',
      `  - name: ${RULES.clerk}`,
      `    match: { direction: outbound, from: [${CLERK}] }`,
      '    sign: always',
      `    signAs: ${POSTSTELLE}`,
      `  - name: ${RULES.tax}`,
      `    match: { direction: outbound, from: [${TAX}] }`,
      '    encrypt: required',
      '    onMissingCertificate: link',
      `  - name: ${RULES.jemand}`,
      `    match: { direction: outbound, from: [${UNENROLLED}] }`,
      '    sign: always',
    ),
    '20-recipients.yaml': lines(
      'rules:',
      `  - name: ${RULES.partner}`,
      `    match: { direction: outbound, to: ["*@partner.example"] }`,
      '    encrypt: required',
      '    onMissingCertificate: reject',
      `  - name: ${RULES.clear}`,
      `    match: { direction: outbound, to: ["*@klartext.example"] }`,
      '    encrypt: never',
    ),
  });
}

export function mail(from: string, to: string): Buffer {
  return Buffer.from(
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: Bescheid\r\nDate: Mon, 04 May 2026 10:00:00 +0200\r\nMessage-ID: <policy-test@stadt.example>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSehr geehrte Damen und Herren,\r\n\r\nGrüße aus dem Rathaus.\r\n`,
    'utf8',
  );
}

export function headerBlock(raw: Buffer | undefined): string {
  const text = (raw ?? Buffer.alloc(0)).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return end < 0 ? text : text.slice(0, end);
}
