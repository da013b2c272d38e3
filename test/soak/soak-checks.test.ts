/**
 * The soak's own checks can fail: its accounting (scripts/soak/accounting.js)
 * puts each kind of mishap in its failure class, the flatness judgement
 * (monitor.js) tells growth from noise, and the counting next hop
 * (next-hop.js) finds the end of data across TCP chunks, undoes
 * dot-stuffing and ties an injected refusal to its message. A soak whose
 * checks could not fail would prove nothing.
 */
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const soakDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'soak');

interface Outcome {
  code?: number;
  stage?: string;
  text?: string;
  lost?: string;
}
interface SentTransaction {
  id: string;
  kind: string;
  rcptTo: string[];
  bodyHash: string | null;
  outcome: Outcome;
}
interface Delivery {
  count: number;
  hop: string;
  marker: string;
  smime: string | null;
  bodyHash: string;
  rcptTo: string[];
}
interface Hop {
  name: string;
  port: number;
  deliveries: Map<string, Delivery>;
  refused: Map<string, string>;
  injected: Record<string, number>;
  stats: { transactions: number; open: number };
  close(): Promise<void>;
}
interface Accounting {
  classes: Record<string, number>;
  unexplainedRefusals: number;
  unknownDeliveries: number;
  accounted: number;
  messagesAccounted: number;
  splits: number;
  examples: Array<{ id: string; class: string; detail: string | null }>;
}
interface Flatness {
  verdict: string;
  growthMb?: number;
}

// Plain JavaScript modules of the script (no type declarations): loaded by URL, typed here.
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(path.join(soakDir, file)).href)) as T;
let account: (sent: Map<string, SentTransaction>, hops: Array<Pick<Hop, 'deliveries' | 'refused' | 'injected'>>) => Accounting;
let transactionKey: (id: string, recipients: string[]) => string;
let flatness: (samples: Array<Record<string, number>>, field: string, options: Record<string, number>) => Flatness;
let startCountingHop: (options: Record<string, unknown>) => Promise<Hop>;

beforeAll(async () => {
  ({ account } = await load<{ account: typeof account }>('accounting.js'));
  ({ transactionKey } = await load<{ transactionKey: typeof transactionKey }>('messages.js'));
  ({ flatness } = await load<{ flatness: typeof flatness }>('monitor.js'));
  ({ startCountingHop } = await load<{ startCountingHop: typeof startCountingHop }>('next-hop.js'));
});

describe('accounting', () => {
  const partner = 'amt@partner.example';
  const outsider = 'buerger@elsewhere.example';
  const ok: Outcome = { code: 250, stage: 'END', text: '250 2.0.0 Ok' };
  const deferred: Outcome = { code: 451, stage: 'END', text: '451 4.3.0 deferred' };
  const bounced: Outcome = { code: 550, stage: 'END', text: '550 5.7.1 refused' };
  const signedAt = (count: number, rcptTo: string[]): Delivery => ({ count, hop: 'submission', marker: 'signed', smime: null, bodyHash: 'x', rcptTo });

  it('puts every mishap in its class and counts each transaction once', () => {
    const sent = new Map<string, SentTransaction>();
    const deliveries = new Map<string, Delivery>();
    const refused = new Map<string, string>();
    const add = (id: string, outcome: Outcome, delivery?: Delivery, kind = 'out-sign', rcptTo = [outsider]) => {
      sent.set(transactionKey(id, rcptTo), { id, kind, rcptTo, bodyHash: null, outcome });
      if (delivery) deliveries.set(transactionKey(id, rcptTo), delivery);
    };
    add('delivered', ok, signedAt(1, [outsider]));
    add('lost', ok);
    add('duplicated', ok, signedAt(2, [outsider]));
    add('wrong-form', ok, { ...signedAt(1, [outsider]), marker: 'plain' });
    add('false-bounce', bounced, signedAt(1, [outsider]));
    add('duplicate-risk', deferred, signedAt(1, [outsider]));
    add('lost-connection-delivered', { lost: 'connection closed' }, signedAt(1, [outsider]));
    add('refused-4xx', deferred);
    refused.set(transactionKey('refused-4xx', [outsider]), 'afterData451');
    add('refused-5xx', bounced);
    refused.set(transactionKey('refused-5xx', [outsider]), 'afterData550');
    add('connection-lost', { lost: 'connection closed' });
    // A split message: the partner's part encrypted, the outsider's signed, each checked as what it became.
    add('split', ok, { ...signedAt(1, [partner]), marker: 'encrypted' }, 'out-split', [partner]);
    add('split', ok, signedAt(1, [outsider]), 'out-split', [outsider]);
    // A deferral the next hop did not inject: the gateway's own.
    add('gateway-deferral', deferred);
    deliveries.set(transactionKey('never-sent', [outsider]), signedAt(1, [outsider]));

    const result = account(sent, [{ deliveries, refused, injected: { dataCommand451: 0 } }]);
    expect(result.classes).toEqual({
      delivered: 3,
      refused4xx: 2,
      refused5xx: 1,
      connectionLost: 1,
      duplicateRisk: 2,
      lost: 1,
      duplicated: 1,
      wrongForm: 1,
      falseBounce: 1,
    });
    expect(result.accounted).toBe(13);
    expect(result.messagesAccounted).toBe(12);
    expect(result.splits).toBe(1);
    expect(result.unknownDeliveries).toBe(1);
    // No injected fault explains the gateway's own deferral, nor the refusals of the two that were delivered after all.
    expect(result.unexplainedRefusals).toBe(3);
    expect(result.examples.find((e) => e.id === 'wrong-form')?.detail).toBe('form plain, expected signed');
  });

  it('a delivery in the wrong form for its part of a split message is caught', () => {
    const sent = new Map([[transactionKey('split', [partner]), { id: 'split', kind: 'out-split', rcptTo: [partner], bodyHash: null, outcome: ok }]]);
    const deliveries = new Map([[transactionKey('split', [partner]), signedAt(1, [partner])]]);
    const result = account(sent, [{ deliveries, refused: new Map(), injected: {} }]);
    expect(result.classes.wrongForm).toBe(1);
    expect(result.examples[0]?.detail).toBe('form signed, expected encrypted');
  });
});

describe('flatness', () => {
  const MB = 1024 * 1024;
  const options = { totalMessages: 10_000, warmup: 0.1, boundMb: 30, boundPct: 20 };
  const series = (rss: (i: number) => number) => Array.from({ length: 100 }, (_, i) => ({ t: i, done: i * 100, rss: rss(i) }));

  it('noise and a warm-up ramp are flat; steady growth is not; a short run gets no verdict', () => {
    // Ramp during warm-up, then a garbage-collector saw tooth of ±15 MB around 200 MB.
    expect(flatness(series((i) => (i < 10 ? 100 + i * 10 : 200 + (i % 7) * 5 - 15) * MB), 'rss', options).verdict).toBe('flat');
    // Two MB more every 100 messages: about 90 MB between the second and the last quarter.
    const growing = flatness(series((i) => (200 + 2 * i) * MB), 'rss', options);
    expect(growing.verdict).toBe('growing');
    expect(growing.growthMb).toBeGreaterThan(80);
    expect(flatness(series(() => 200 * MB).slice(0, 25), 'rss', options).verdict).toBe('too-short');
  });
});

describe('counting next hop', () => {
  let hop: Hop;

  afterEach(async () => {
    await hop.close();
  });

  /** Speaks SMTP to the hop and writes the data in small pieces, so the end of data spans TCP chunks. */
  async function deliver(port: number, data: string, rcpt: string): Promise<string[]> {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const replies: string[] = [];
    let waiting: (() => void) | undefined;
    socket.on('data', (d: Buffer) => {
      replies.push(...d.toString('latin1').split('\r\n').filter(Boolean));
      waiting?.();
    });
    socket.on('close', () => {
      replies.push('(closed)');
      waiting?.();
    });
    const reply = (write?: string) =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        if (write !== undefined) socket.write(write);
      });
    await reply();
    await reply('EHLO test\r\n');
    await reply('MAIL FROM:<a@stadt.example>\r\n');
    await reply(`RCPT TO:<${rcpt}>\r\n`);
    await reply('DATA\r\n');
    const end = new Promise<void>((resolve) => (waiting = resolve));
    for (let i = 0; i < data.length && !socket.destroyed; i += 3) {
      socket.write(data.slice(i, i + 3), 'latin1');
      await new Promise((r) => setTimeout(r, 2));
    }
    await end;
    socket.end('QUIT\r\n');
    return replies;
  }

  const message = (id: string) =>
    `X-Soak-Id: ${id}\r\nAuthentication-Results: soak.stadt.example; smime=pass\r\nAuthentication-Results: other.example; smime=fail\r\n` +
    `Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n boundary="b"\r\n\r\n..a line that began with a dot\r\nend\r\n.\r\n`;

  it('records a delivery by its id and recipients, in its form, with its verdict and the unstuffed body', async () => {
    hop = await startCountingHop({ name: 'inbound', seed: 1, authservId: 'soak.stadt.example', faults: {} });
    const replies = await deliver(hop.port, message('m1'), 'Anna@Stadt.example');
    expect(replies.at(-1)).toMatch(/^250 /);
    const delivery = hop.deliveries.get(transactionKey('m1', ['anna@stadt.example']));
    const { createHash } = await import('node:crypto');
    expect(delivery).toEqual({
      count: 1,
      hop: 'inbound',
      marker: 'signed',
      smime: 'pass',
      bodyHash: createHash('sha256').update('.a line that began with a dot\r\nend\r\n').digest('hex'),
      rcptTo: ['anna@stadt.example'],
    });
  });

  it('an injected 550 after the end of data is tied to its message and is no delivery', async () => {
    hop = await startCountingHop({ name: 'submission', seed: 1, authservId: 'soak.stadt.example', faults: { afterData550: 1 } });
    const replies = await deliver(hop.port, message('m2'), 'b@elsewhere.example');
    expect(replies.at(-1)).toMatch(/^550 5\.7\.1 /);
    expect(hop.deliveries.size).toBe(0);
    expect(hop.refused.get(transactionKey('m2', ['b@elsewhere.example']))).toBe('afterData550');
    expect(hop.injected.afterData550).toBe(1);
  });

  it('an injected close in the middle of DATA ends the connection without a reply and is no delivery', async () => {
    hop = await startCountingHop({ name: 'submission', seed: 1, authservId: 'soak.stadt.example', faults: { dropMidData: 1 } });
    const replies = await deliver(hop.port, message('m3'), 'b@elsewhere.example');
    expect(replies.at(-1)).toBe('(closed)');
    expect(replies.filter((r) => /^(250 2\.0\.0 soak|550|451)/.test(r))).toEqual([]);
    expect(hop.deliveries.size).toBe(0);
    expect(hop.refused.get(transactionKey('m3', ['b@elsewhere.example']))).toBe('dropMidData');
  });
});
