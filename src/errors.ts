/**
 * The one error catalog: every failure Siegel reports maps to exactly one
 * SMTP reply code, enhanced status code (RFC 3463) and HTTP status. Edges
 * (SMTP, HTTP, CLI) translate a SiegelError through this table and never
 * invent codes of their own.
 */
export interface CatalogEntry {
  /** SMTP reply code (RFC 5321). */
  readonly smtp: number;
  /** Enhanced status code (RFC 3463). */
  readonly enhanced: string;
  /** HTTP status for the web edge. */
  readonly http: number;
  /** Short text shown to the client; never contains secrets or message data. */
  readonly text: string;
}

export const errorCatalog = {
  CLIENT_NOT_ALLOWED: { smtp: 554, enhanced: '5.7.1', http: 403, text: 'Client host not allowed to use this service' },
  AUTH_REQUIRED: { smtp: 530, enhanced: '5.7.0', http: 401, text: 'Authentication required' },
  AUTH_FAILED: { smtp: 535, enhanced: '5.7.8', http: 401, text: 'Authentication credentials invalid' },
  TLS_REQUIRED: { smtp: 530, enhanced: '5.7.0', http: 403, text: 'Must issue a STARTTLS command first' },
  SENDER_NOT_ALLOWED: { smtp: 553, enhanced: '5.7.1', http: 403, text: 'Sender address not allowed for this login' },
  TOO_MANY_RECIPIENTS: { smtp: 452, enhanced: '4.5.3', http: 400, text: 'Too many recipients' },
  RECIPIENT_NEEDS_OWN_TRANSACTION: { smtp: 452, enhanced: '4.5.3', http: 400, text: 'Recipient needs a separate transaction, send it again' },
  RELAY_DENIED: { smtp: 550, enhanced: '5.7.1', http: 403, text: 'Relay access denied: recipient domain not served here' },
  // Policy (issue 6): the refusal's SmtpReply names the recipient or sender and the rule, e.g. "Policy requires encryption, no certificate for a@b (rule ...)".
  POLICY_REFUSED: { smtp: 550, enhanced: '5.7.1', http: 403, text: 'Message refused by policy' },
  // Only `siegel outbound` meets it (the SMTP edge splits such recipients with 452 4.5.3 at RCPT time).
  POLICY_RECIPIENTS_MIXED: { smtp: 554, enhanced: '5.5.3', http: 400, text: 'Recipients fall under different policies, send one message per policy' },
  MESSAGE_TOO_LARGE: { smtp: 552, enhanced: '5.3.4', http: 413, text: 'Message size exceeds fixed maximum message size' },
  FILE_TOO_LARGE: { smtp: 552, enhanced: '5.3.4', http: 413, text: 'File size exceeds the maximum file size' },
  QUOTA_EXCEEDED: { smtp: 552, enhanced: '5.2.2', http: 413, text: 'Storage quota for shared files exceeded' },
  FILE_INFECTED: { smtp: 554, enhanced: '5.7.1', http: 422, text: 'File rejected by the virus scanner' },
  VIRUS_SCAN_FAILED: { smtp: 451, enhanced: '4.3.0', http: 503, text: 'File could not be scanned for viruses, try again later' },
  INVALID_REQUEST: { smtp: 501, enhanced: '5.5.4', http: 400, text: 'Invalid request parameters' },
  MESSAGE_MALFORMED: { smtp: 554, enhanced: '5.6.0', http: 400, text: 'Message content could not be processed' },
  MESSAGE_LIMITS_EXCEEDED: { smtp: 554, enhanced: '5.6.0', http: 400, text: 'Message structure exceeds processing limits' },
  SIGNING_FAILED: { smtp: 451, enhanced: '4.7.0', http: 500, text: 'Message could not be signed, try again later' },
  ENCRYPTION_FAILED: { smtp: 451, enhanced: '4.7.0', http: 500, text: 'Message could not be encrypted, try again later' },
  DECRYPTION_FAILED: { smtp: 451, enhanced: '4.7.0', http: 500, text: 'Message could not be decrypted, try again later' },
  IDENTITY_UNAVAILABLE: { smtp: 451, enhanced: '4.7.0', http: 503, text: 'Signing identity temporarily unavailable' },
  NEXT_HOP_UNREACHABLE: { smtp: 451, enhanced: '4.4.1', http: 502, text: 'Next hop not reachable, try again later' },
  NEXT_HOP_TIMEOUT: { smtp: 451, enhanced: '4.4.2', http: 504, text: 'Next hop timed out, try again later' },
  NEXT_HOP_PROTOCOL: { smtp: 451, enhanced: '4.5.0', http: 502, text: 'Next hop answered unexpectedly, try again later' },
  NEXT_HOP_TEMPFAIL: { smtp: 451, enhanced: '4.3.0', http: 502, text: 'Next hop deferred the message' },
  NEXT_HOP_PERMFAIL: { smtp: 554, enhanced: '5.0.0', http: 502, text: 'Next hop rejected the message' },
  STORAGE_FAILED: { smtp: 451, enhanced: '4.3.1', http: 507, text: 'Insufficient system storage, try again later' },
  SHUTTING_DOWN: { smtp: 421, enhanced: '4.3.2', http: 503, text: 'Service shutting down, try again later' },
  SESSION_TIMEOUT: { smtp: 421, enhanced: '4.4.2', http: 408, text: 'Connection time limit exceeded, closing connection' },
  INTERNAL: { smtp: 451, enhanced: '4.3.0', http: 500, text: 'Local error in processing, try again later' },
  CONFIG_INVALID: { smtp: 451, enhanced: '4.3.5', http: 500, text: 'Configuration error' },
  ENROLL_REJECTED: { smtp: 554, enhanced: '5.7.0', http: 400, text: 'Identity rejected' },
  CERTIFICATE_REJECTED: { smtp: 554, enhanced: '5.7.0', http: 400, text: 'Certificate rejected' },
  SIGNATURE_REJECTED: { smtp: 550, enhanced: '5.7.7', http: 422, text: 'Message rejected: its S/MIME signature does not verify' },
  NOT_FOUND: { smtp: 550, enhanced: '5.1.1', http: 404, text: 'Not found' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof errorCatalog;

/** An error with a catalog code. `detail` is for logs and CLI output. */
export class SiegelError extends Error {
  readonly code: ErrorCode;
  /** Reply from a next hop to mirror instead of the catalog default. */
  readonly reply: SmtpReply | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; reply?: SmtpReply }) {
    super(detail ?? errorCatalog[code].text, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SiegelError';
    this.code = code;
    this.reply = options?.reply;
  }
}

/** An SMTP answer as the SMTP edge sends it. */
export interface SmtpReply {
  readonly code: number;
  readonly enhanced: string;
  readonly text: string;
}

/** Translate any thrown value into the SMTP reply the client should see. */
export function smtpReplyFor(err: unknown): SmtpReply {
  if (err instanceof SiegelError) {
    if (err.reply) return err.reply;
    const entry = errorCatalog[err.code];
    return { code: entry.smtp, enhanced: entry.enhanced, text: entry.text };
  }
  const entry = errorCatalog.INTERNAL;
  return { code: entry.smtp, enhanced: entry.enhanced, text: entry.text };
}

/** Translate any thrown value into an HTTP status. */
export function httpStatusFor(err: unknown): number {
  return err instanceof SiegelError ? errorCatalog[err.code].http : errorCatalog.INTERNAL.http;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
