import { mirrorReply, nextHopError, recipientsRejected } from '../../src/smtp/next-hop-errors.js';
import { smtpReplyFor } from '../../src/errors.js';

describe('mirroring next hop replies', () => {
  it('keeps code, enhanced code and text', () => {
    expect(mirrorReply('550 5.1.1 <x@example.org>: Recipient address rejected')).toEqual({
      code: 550,
      enhanced: '5.1.1',
      text: '<x@example.org>: Recipient address rejected',
    });
  });

  it('adds 4.3.0 / 5.0.0 when the next hop gave no enhanced code, or one of the wrong class', () => {
    expect(mirrorReply('451 try later')).toEqual({ code: 451, enhanced: '4.3.0', text: 'try later' });
    expect(mirrorReply('554 go away')).toEqual({ code: 554, enhanced: '5.0.0', text: 'go away' });
    expect(mirrorReply('451 5.7.1 confused')).toEqual({ code: 451, enhanced: '4.3.0', text: 'confused' });
  });

  it('joins multi-line replies and turns 421 into 451 (a 421 from us would end the client session)', () => {
    expect(mirrorReply('421-4.3.2 shutting\n421 4.3.2 down')).toEqual({ code: 451, enhanced: '4.3.2', text: 'shutting down' });
  });

  it('does not mirror success or garbage', () => {
    expect(mirrorReply('250 ok')).toBeUndefined();
    expect(mirrorReply('HTTP/1.1 400 Bad Request')).toBeUndefined();
  });

  it('strips control characters and bounds the text', () => {
    const reply = mirrorReply(`550 5.0.0 a\u0007b ${'x'.repeat(1000)}`);
    expect(reply?.text).not.toMatch(/\p{Cc}/u);
    expect(reply?.text.length).toBeLessThanOrEqual(300);
  });

  it('chooses the first permanent recipient refusal', () => {
    const err = recipientsRejected([
      { recipient: 'a@x', response: '452 4.2.2 full' },
      { recipient: 'b@x', response: '550 5.1.1 <b@x> unknown' },
    ]);
    expect(err.code).toBe('NEXT_HOP_PERMFAIL');
    expect(smtpReplyFor(err)).toEqual({ code: 550, enhanced: '5.1.1', text: '<b@x> unknown' });
  });

  it('maps nodemailer error codes', () => {
    const error = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error('x'), { code, ...extra });
    expect(nextHopError(error('ETIMEDOUT')).code).toBe('NEXT_HOP_TIMEOUT');
    expect(nextHopError(error('ESOCKET')).code).toBe('NEXT_HOP_UNREACHABLE');
    expect(nextHopError(error('EDNS')).code).toBe('NEXT_HOP_UNREACHABLE');
    expect(nextHopError(error('EPROTOCOL', { response: 'garbage' })).code).toBe('NEXT_HOP_PROTOCOL');
    expect(nextHopError(error('EMESSAGE', { response: '452 4.3.1 disk full' })).reply).toEqual({ code: 452, enhanced: '4.3.1', text: 'disk full' });
    expect(nextHopError(error('EAUTH', { response: '535 5.7.8 no' })).code).toBe('CONFIG_INVALID');
    expect(nextHopError('weird').code).toBe('INTERNAL');
    expect(nextHopError(error('EMESSAGE', { command: 'MAIL FROM', message: 'Message size larger than allowed 1000' })).code).toBe('MESSAGE_TOO_LARGE');
  });

  it('mirrors refusals of the transaction, but not a 5xx greeting or a failed STARTTLS (those refuse us, not the message)', () => {
    const error = (code: string, command: string, response: string) => Object.assign(new Error('x'), { code, command, response });
    expect(nextHopError(error('EENVELOPE', 'MAIL FROM', '553 5.7.1 sender rejected')).reply?.code).toBe(553);
    expect(nextHopError(error('EENVELOPE', 'DATA', '554 5.5.1 no valid recipients')).reply?.code).toBe(554);
    expect(nextHopError(error('EPROTOCOL', 'CONN', '554 no SMTP service here')).code).toBe('NEXT_HOP_UNREACHABLE');
    expect(nextHopError(error('ETLS', 'STARTTLS', '500 command not recognized')).code).toBe('NEXT_HOP_UNREACHABLE');
    expect(nextHopError(error('ECONNECTION', 'CONN', '421 4.3.2 shutting down')).reply).toEqual({ code: 451, enhanced: '4.3.2', text: 'shutting down' });
  });
});
