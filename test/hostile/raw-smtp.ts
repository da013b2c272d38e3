/**
 * A raw SMTP client over a plain socket, for clients that misbehave on
 * purpose: it writes what it is told when it is told (a byte at a time if
 * need be) and records every reply line and when the server closed.
 */
import net from 'node:net';

export class RawSmtpClient {
  readonly lines: string[] = [];
  /** Resolves when the server (or we) closed the connection. */
  readonly closed: Promise<void>;
  private pending = '';
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.pending += text;
      let eol: number;
      while ((eol = this.pending.indexOf('\r\n')) >= 0) {
        this.lines.push(this.pending.slice(0, eol));
        this.pending = this.pending.slice(eol + 2);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<RawSmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawSmtpClient(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Waits for a reply line matching `pattern` (already received or still to come); rejects after `ms` or on close. */
  reply(pattern: RegExp, ms = 15_000): Promise<string> {
    return this.until(() => this.lines.find((line) => pattern.test(line)), `a reply matching ${String(pattern)}`, ms);
  }

  /** Sends a command line and checks its final reply line (a code followed by a space). */
  async command(line: string, expected: RegExp, ms = 15_000): Promise<string> {
    const seen = this.lines.length;
    this.write(`${line}\r\n`);
    const answer = await this.until(() => this.lines.slice(seen).find((l) => /^\d{3} /.test(l)), `the reply to ${line}`, ms);
    if (!expected.test(answer)) throw new Error(`${line}: expected ${String(expected)}, got ${answer}`);
    return answer;
  }

  private async until(check: () => string | undefined, what: string, ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = check();
      if (found !== undefined) return found;
      if (this.ended) throw new Error(`connection closed before ${what}; got ${JSON.stringify(this.lines)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  write(text: string): void {
    if (!this.ended) this.socket.write(text, 'latin1');
  }

  /** Writes `text` one byte every `intervalMs` until it is written or the connection closes. */
  async trickle(text: string, intervalMs: number): Promise<void> {
    for (const char of text) {
      if (this.ended) return;
      this.write(char);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
