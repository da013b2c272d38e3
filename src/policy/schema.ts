/**
 * The schema of one policy file (policies/*.yaml): named groups of
 * addresses and an ordered list of rules. A rule names what it matches
 * (direction, sender, recipient) and only the decisions it changes; the
 * rest comes from the default decision (src/policy/decision.ts). Unknown
 * keys are errors, so a misspelt decision never silently does nothing.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from '../config/units.js';

export const directions = ['outbound', 'inbound'] as const;
export type Direction = (typeof directions)[number];

export const signModes = ['always', 'if-enrolled', 'never'] as const;
export const encryptModes = ['never', 'opportunistic', 'required'] as const;
export const missingCertificateActions = ['reject', 'link'] as const;
export const failActions = ['tag', 'quarantine', 'reject'] as const;
export const contentEncryptions = ['auto', 'gcm', 'cbc'] as const;
export const verdicts = ['pass', 'fail', 'policy', 'neutral', 'none', 'temperror', 'permerror'] as const;

const groupName = /^[a-z0-9][a-z0-9._-]*$/i;
const localPart = /^[^\s@<>()[\],;:"]+$/;
const domain = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;

/** A plain mail address such as `ratsbuero@stadt.example`. */
export function isAddress(text: string): boolean {
  const at = text.lastIndexOf('@');
  return at > 0 && localPart.test(text.slice(0, at)) && domain.test(text.slice(at + 1));
}

/** `*@domain` (that domain) or `*@*.domain` (its subdomains). */
function isDomainPattern(text: string): boolean {
  const match = /^\*@(\*\.)?(.+)$/.exec(text);
  return match !== null && domain.test(match[2] ?? '');
}

/** What a `from`/`to` entry or a group member may be. */
export function patternProblem(text: string, options: { allowGroups: boolean }): string | undefined {
  if (text === 'internal' || isAddress(text) || isDomainPattern(text)) return undefined;
  if (text.startsWith('group:')) {
    if (!options.allowGroups) return 'a group cannot contain another group';
    return groupName.test(text.slice('group:'.length)) ? undefined : `"${text}" is not a valid group reference (group:NAME)`;
  }
  return `expected an address (a@stadt.example), "*@domain", "*@*.domain", "internal"${options.allowGroups ? ' or "group:NAME"' : ''}, got ${JSON.stringify(text)}`;
}

const patternList = (allowGroups: boolean) =>
  z
    .array(
      z.string().superRefine((value, ctx) => {
        const problem = patternProblem(value.trim().toLowerCase(), { allowGroups });
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    )
    // An empty list would match nobody: almost certainly a mistake, and leaving the key out already means "anyone".
    .min(1, { message: 'an empty list matches nothing; leave the key out to match anyone' });

const size = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size like "10MB" or a number of bytes, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return bytes;
});

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "14d" or "36h", got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return ms;
});

const subjectTags = z.object(Object.fromEntries(verdicts.map((v) => [v, z.string().max(100).optional()])) as Record<(typeof verdicts)[number], z.ZodOptional<z.ZodString>>).strict();

/** Decisions that only make sense for one direction; a rule for the other one naming them is an error. */
export const outboundOnly = ['sign', 'signAs', 'encrypt', 'onMissingCertificate', 'largeFiles', 'contentEncryption'] as const;
export const inboundOnly = ['subjectTags', 'onFail'] as const;

export const ruleSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    /** Free text shown by `siegel policy explain`. */
    description: z.string().optional(),
    match: z
      .object({
        direction: z.enum(directions),
        /** Senders; absent: any sender. */
        from: patternList(true).optional(),
        /** Recipients; absent: any recipient. */
        to: patternList(true).optional(),
      })
      .strict(),
    sign: z.enum(signModes).optional(),
    /** Sign with this (functional) mailbox's identity instead of the sender's. */
    signAs: z
      .string()
      .trim()
      .refine((value) => isAddress(value), { message: 'expected a mailbox address such as poststelle@stadt.example' })
      .optional(),
    encrypt: z.enum(encryptModes).optional(),
    onMissingCertificate: z.enum(missingCertificateActions).optional(),
    largeFiles: z.object({ threshold: size.optional(), expiry: duration.optional() }).strict().optional(),
    subjectTags: subjectTags.optional(),
    onFail: z.enum(failActions).optional(),
    minRsaBits: z.number().int().min(1024).max(16384).optional(),
    contentEncryption: z.enum(contentEncryptions).optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const foreign = rule.match.direction === 'outbound' ? inboundOnly : outboundOnly;
    for (const key of foreign) {
      if (rule[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `applies to ${rule.match.direction === 'outbound' ? 'inbound' : 'outbound'} rules only` });
    }
    if (rule.onMissingCertificate !== undefined && rule.encrypt !== 'required') {
      ctx.addIssue({ code: 'custom', path: ['onMissingCertificate'], message: 'applies only together with encrypt: required' });
    }
    if (rule.signAs !== undefined && rule.sign === 'never') {
      ctx.addIssue({ code: 'custom', path: ['signAs'], message: 'makes no sense with sign: never' });
    }
  });

export const policyFileSchema = z
  .object({
    /** Named address lists, referenced in rules as `group:NAME`. */
    groups: z
      .record(
        z.string().regex(groupName, { message: 'group names are letters, digits, ".", "_" and "-"' }),
        patternList(false),
      )
      .optional(),
    rules: z.array(ruleSchema).optional(),
  })
  .strict();

export type PolicyRuleInput = z.input<typeof ruleSchema>;
export type PolicyRule = z.output<typeof ruleSchema>;
export type PolicyFile = z.output<typeof policyFileSchema>;
export type SignMode = (typeof signModes)[number];
export type EncryptMode = (typeof encryptModes)[number];
export type MissingCertificateAction = (typeof missingCertificateActions)[number];
export type FailAction = (typeof failActions)[number];
export type ContentEncryption = (typeof contentEncryptions)[number];
export type Verdict = (typeof verdicts)[number];
