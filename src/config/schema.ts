/**
 * The configuration schema. Every key has a default except `dataDir` and
 * `trustAnchors`; docs/configuration.md documents each key. Relative paths
 * are resolved against the directory of the config file.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

const size = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size like "10MB", "512KB" or a number of bytes, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return bytes;
  });

const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like "30s", "5m", "14d" or milliseconds, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  });

/**
 * A duration that arms a timer: Node's setTimeout fires at once (after a
 * warning) for anything above 2^31-1 ms, so a "30d" meant as "never" would
 * end every connection immediately.
 */
const timerDuration = duration.pipe(
  z
    .number()
    .min(1, { message: 'must be at least 1 ms' })
    .max(2_147_483_647, { message: 'must be at most 24.8 days (2^31-1 ms, the longest timer Node.js can arm)' }),
);

/** "host:port", "[v6]:port" or a bare port (binds 127.0.0.1). */
const listenAddress = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const text = String(value).trim();
    const bare = /^\d+$/.exec(text);
    const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
    const v4 = /^([^:[\]]+):(\d+)$/.exec(text);
    const host = bare ? '127.0.0.1' : v6 ? v6[1] : v4 ? v4[1] : undefined;
    const port = Number(bare ? bare[0] : v6 ? v6[2] : v4 ? v4[2] : NaN);
    if (host === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `expected "host:port" (e.g. "127.0.0.1:10587") or a port, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return { host, port };
  });

/** smtp://host:port, smtps://host:port or maildir:PATH */
const relayTarget = z
  .string()
  .refine((value) => /^(smtps?:\/\/[^/?#]+\/?(\?.*)?|maildir:.+)$/.test(value.trim()), {
    message: 'expected "smtp://host:port", "smtps://host:port" or "maildir:PATH"',
  })
  // Credentials in the URL would end up in logs; they belong in nextHop.user/passwordFile.
  .refine((value) => !/^smtps?:\/\/[^/?#]*@/.test(value.trim()), {
    message: 'no user or password in the relay URL: use nextHop.user and nextHop.passwordFile',
  });

const cidr = z.string().refine(
  (value) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(value.trim()),
  { message: 'expected an IP address or network like "10.0.0.0/8" or "::1/128"' },
);

const tlsFiles = z
  .object({
    /** PEM certificate chain for STARTTLS. */
    cert: z.string(),
    /** PEM private key for STARTTLS (a file, never inline). */
    key: z.string(),
  })
  .strict();

const nextHop = z
  .object({
    /** Require STARTTLS towards an smtp:// next hop (default: opportunistic). */
    requireTls: z.boolean().default(false),
    /** Verify the next hop's certificate. */
    verifyCertificate: z.boolean().default(true),
    /** Extra CA file (PEM) to verify the next hop's certificate with. */
    caFile: z.string().optional(),
    /** SMTP AUTH user at the next hop; the password comes from passwordFile. */
    user: z.string().optional(),
    passwordFile: z.string().optional(),
    /** Time for the whole delivery to the next hop. */
    timeout: timerDuration.default(120_000),
  })
  .strict();

function listenerSchema(defaults: { listen: string; relay: string }) {
  return z
    .object({
      listen: listenAddress.prefault(defaults.listen),
      relay: relayTarget.default(defaults.relay),
      nextHop: nextHop.prefault({}),
      tls: tlsFiles.optional(),
      requireTls: z.boolean().default(false),
      clientNetworks: z.array(cidr).default(['127.0.0.0/8', '::1/128']),
      auth: z
        .object({
          /** File of "user:scrypt-hash" lines (see `siegel passwd`). */
          credentialsFile: z.string().optional(),
          /** Clients must authenticate (from any network). */
          required: z.boolean().default(false),
          /**
           * Login -> the sender addresses ("a@x.example") or domains
           * ("@x.example") it may use in From and MAIL FROM. When set, every
           * authenticated login must be listed; unauthenticated clients from
           * clientNetworks (e.g. the internal mail server) are not checked.
           */
          senders: z.record(z.string(), z.array(z.string().min(1))).optional(),
        })
        .strict()
        .prefault({}),
      maxMessageSize: size.default(52_428_800),
      maxRecipients: z.number().int().positive().default(100),
      maxConnections: z.number().int().positive().default(100),
      socketTimeout: timerDuration.default(300_000),
      /**
       * Longest a client connection may last. The idle timeout never fires for a client that
       * trickles a byte every few seconds (slowloris); this does, with 421 4.4.2, except while
       * the gateway itself is still working on a message the client sent in full.
       */
      sessionTimeout: timerDuration.default(1_800_000),
    })
    .strict();
}

export const configSchema = z
  .object({
    /** Where identities, the database and demo mail live. */
    dataDir: z.string().min(1),
    /** Directory of trusted CA certificates (PEM or DER). */
    trustAnchors: z.string().min(1),
    /** File holding the master key that encrypts private keys at rest (or env SIEGEL_MASTER_KEY). */
    masterKeyFile: z.string().optional(),
    /** Mail domains of the administration (staff senders). */
    internalDomains: z.array(z.string()).default([]),
    /** Directory of policy files (*.yaml): who signs, what is encrypted, what happens without a certificate. */
    policies: z.string().min(1).default('policies'),
    /** authserv-id for Authentication-Results headers. */
    authservId: z.string().optional(),
    /** Host name in SMTP greetings. */
    hostname: z.string().optional(),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    smtp: z
      .object({
        submission: listenerSchema({ listen: '127.0.0.1:10587', relay: 'maildir:mail/outbound' }).prefault({}),
        inbound: listenerSchema({ listen: '127.0.0.1:10025', relay: 'maildir:mail/inbound' }).prefault({}),
      })
      .strict()
      .prefault({}),
    signing: z
      .object({
        /** Sign outbound mail of enrolled mailboxes. */
        enabled: z.boolean().default(true),
        /** multipart (RFC 8551 multipart/signed, clear-signed) or opaque (application/pkcs7-mime). */
        mode: z.enum(['multipart', 'opaque']).default('multipart'),
        /** Recipient addresses or domains ("example.org") that get opaque signatures. */
        opaqueFor: z.array(z.string()).default([]),
        /** Include the issuing CA certificates (never the root). */
        includeChain: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    inbound: z
      .object({
        /** Keep the certificates of senders whose signature passed, for encrypted replies. */
        harvest: z.boolean().default(true),
        /** RSA keys below this size anywhere in a signer's path give 'policy'. */
        minRsaBits: z.number().int().min(1024).max(16384).default(2048),
        /** Subject prefix per verdict for clients that show no headers; a verdict without a tag leaves the subject alone. */
        subjectTags: z
          .object({
            pass: z.string().max(100).optional(),
            fail: z.string().max(100).optional(),
            policy: z.string().max(100).optional(),
            neutral: z.string().max(100).optional(),
            none: z.string().max(100).optional(),
            temperror: z.string().max(100).optional(),
            permerror: z.string().max(100).optional(),
          })
          .strict()
          .prefault({}),
        /** Only these recipient domains are relayed (default: internalDomains; empty = any). */
        recipientDomains: z.array(z.string()).optional(),
        /** Where policies with onFail: quarantine put failed mail (maildir: relative to dataDir, or smtp://). */
        quarantine: z.string().min(1).default('maildir:mail/quarantine'),
      })
      .strict()
      .prefault({}),
    encryption: z
      .object({
        /** Encrypt outbound mail when every recipient's certificate is known. */
        enabled: z.boolean().default(true),
        /** auto: AES-256-GCM when every recipient advertises it, else AES-256-CBC. */
        contentEncryption: z.enum(['auto', 'gcm', 'cbc']).default('auto'),
      })
      .strict()
      .prefault({}),
    enrollment: z
      .object({
        /** Subject of certification requests (`siegel enroll request`), shaped like Behörden-PKI mailbox requests: C, O, OU, CN. */
        profile: z
          .object({
            country: z.string().length(2).default('DE'),
            organization: z.string().optional(),
            organizationalUnit: z.string().optional(),
          })
          .strict()
          .prefault({}),
        /** Identities expiring within this time are logged daily, exported as a metric and mailed to adminAddress. */
        expiryWarning: duration.default(30 * 86_400_000),
        /** Administrator address for expiry warnings (mailed through the outbound relay). */
        adminAddress: z.string().optional(),
      })
      .strict()
      .prefault({}),
    revocation: z
      .object({
        /** soft: an unreachable responder does not change the verdict; hard: it gives temperror (and no encryption to that certificate). */
        mode: z.enum(['soft', 'hard']).default('soft'),
        /** Time for one OCSP request or CRL download. */
        timeout: duration.default(10_000),
        /** OCSP responses older than this (thisUpdate) are stale when they carry no nextUpdate. */
        ocspMaxAge: duration.default(7 * 86_400_000),
        /** Largest CRL downloaded. */
        maxCrlSize: size.default(100 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    ldap: z
      .object({
        /** Directory servers for recipient certificates, tried in order: ldap://host:389 or ldaps://host:636. Empty: no look-up. */
        servers: z.array(z.string()).default([]),
        baseDn: z.string().default(''),
        /** Search filter; {address} is replaced by the escaped recipient address. */
        filter: z.string().default('(mail={address})'),
        /** Attribute holding the certificates. */
        attribute: z.string().default('userCertificate;binary'),
        bindDn: z.string().optional(),
        passwordFile: z.string().optional(),
        timeout: duration.default(10_000),
        /** How long a found (or not found) certificate is remembered. */
        cacheTtl: duration.default(86_400_000),
      })
      .strict()
      .prefault({}),
    web: z
      .object({
        listen: listenAddress.prefault('127.0.0.1:8080'),
        publicUrl: z.string().url().default('http://127.0.0.1:8080'),
        /** Honour X-Forwarded-For from a reverse proxy in front (client IPs in the audit log and rate limits). */
        trustProxy: z.boolean().default(false),
        /** How long a staff sign-in lasts. */
        sessionLifetime: duration.default(8 * 3_600_000),
        /** How long the one-time sign-in link mailed to staff is valid. */
        signInLinkLifetime: duration.default(15 * 60_000),
        /** Clients allowed to read GET /metrics (Prometheus); others get 404. Empty: nobody. */
        metricsNetworks: z.array(cidr).default(['127.0.0.0/8', '::1/128']),
      })
      .strict()
      .prefault({}),
    largeFiles: z
      .object({
        /** Attachments above this size leave as links (offloading in the outbound pipeline). */
        threshold: size.default(10_485_760),
        /** Directory of the encrypted files (default: files/ in dataDir). */
        directory: z.string().optional(),
        defaultExpiry: duration.default(14 * 86_400_000),
        maxExpiry: duration.default(90 * 86_400_000),
        maxFileSize: size.default(5 * 1024 ** 3),
        /** Total size of the active shares of one owner. */
        ownerQuota: size.default(50 * 1024 ** 3),
        /** Uploads are refused while less than this is free on the file system. */
        minFreeSpace: size.default(1024 ** 3),
        notifyOnFirstDownload: z.boolean().default(true),
        /** Wrong passwords per share before it is locked for `lockout`. */
        passwordAttempts: z.number().int().positive().default(5),
        lockout: duration.default(15 * 60_000),
        /** How often expired files are deleted. */
        sweepInterval: duration.default(3_600_000),
        /** Sender of the exchange's own mail (notifications, sign-in links); default siegel@ the first internal domain. */
        notificationsFrom: z.string().optional(),
        virusScan: z
          .object({
            /** clamd socket (path of a Unix socket, or host:port); no scan when unset. */
            clamd: z.string().optional(),
            timeout: duration.default(120_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        /** Deepest MIME nesting processed. */
        mimeDepth: z.number().int().positive().default(50),
        /** Most MIME parts processed in one message. */
        mimeParts: z.number().int().positive().default(10_000),
        /** Largest header block of one part. */
        headerSize: size.default(1_048_576),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ListenerConfig = Config['smtp']['submission'];
export type NextHopConfig = ListenerConfig['nextHop'];
