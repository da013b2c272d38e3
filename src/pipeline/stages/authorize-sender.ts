/**
 * An authenticated login may send only as the addresses assigned to it
 * (smtp.submission.auth.senders), so that credentials for a scanner or an
 * application cannot make the gateway sign as poststelle@. Checked against
 * the From header (what recipients see and the signature vouches for) and
 * the envelope sender.
 */
import { SiegelError } from '../../errors.js';
import { getHeader, parseAddressList, splitHeaderBody } from '../../mime/headers.js';
import { leadingBytes } from '../message.js';
import type { Stage, StageResult } from '../types.js';

export interface AuthorizeSenderOptions {
  /** Login -> allowed addresses ("a@x.example") or domains ("@x.example"). */
  readonly senders: Readonly<Record<string, readonly string[]>>;
  readonly maxHeaderSize: number;
}

export function createAuthorizeSenderStage(options: AuthorizeSenderOptions): Stage {
  const table = new Map(Object.entries(options.senders).map(([login, list]) => [login, list.map((entry) => entry.trim().toLowerCase())]));
  return {
    name: 'authorize-sender',
    async run(message): Promise<StageResult> {
      const user = message.envelope.authenticatedUser;
      const result = (action: string): StageResult => ({ message, action: { stage: 'authorize-sender', action } });
      if (user === undefined) return result('not-authenticated');
      const allowed = table.get(user) ?? [];
      const { header } = splitHeaderBody(leadingBytes(message, options.maxHeaderSize));
      const from = parseAddressList(getHeader(header, 'from') ?? '');
      const used = [...from, ...(message.envelope.mailFrom ? [message.envelope.mailFrom.toLowerCase()] : [])];
      const refused = used.find((address) => !permits(allowed, address));
      if (refused !== undefined) {
        throw new SiegelError('SENDER_NOT_ALLOWED', `login ${user} may not send as ${refused}`);
      }
      if (from.length === 0) throw new SiegelError('SENDER_NOT_ALLOWED', `login ${user}: message has no From address`);
      return result('allowed');
    },
  };
}

function permits(allowed: readonly string[], address: string): boolean {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return allowed.some((entry) => entry === address || entry === `@${domain}`);
}
