/**
 * `siegel health`: exit 0 when every part of a running gateway answers
 * within 5 seconds: the submission and inbound listeners with a 220
 * greeting, the web listener with any HTTP response (used by the Docker
 * HEALTHCHECK and by monitoring). One line per part says which one failed.
 */
import http from 'node:http';
import net from 'node:net';
import type { CommandContext } from './context.js';

const TIMEOUT_MS = 5000;

function reachable(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
}

function smtpGreets(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(TIMEOUT_MS, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => {
      socket.write('QUIT\r\n');
      done(data.toString('latin1').startsWith('220'));
    });
  });
}

function httpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const request = http.get({ host, port, path: '/', timeout: TIMEOUT_MS }, (response) => {
      response.resume();
      resolve(response.statusCode !== undefined);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(false));
  });
}

export async function health(ctx: CommandContext): Promise<number> {
  const { submission, inbound } = ctx.config.smtp;
  const web = ctx.config.web.listen;
  const checks = [
    { name: 'submission listener', host: reachable(submission.listen.host), port: submission.listen.port, probe: smtpGreets, failure: 'no SMTP greeting' },
    { name: 'inbound listener', host: reachable(inbound.listen.host), port: inbound.listen.port, probe: smtpGreets, failure: 'no SMTP greeting' },
    { name: 'web listener', host: reachable(web.host), port: web.port, probe: httpAnswers, failure: 'no HTTP answer' },
  ];
  const results = await Promise.all(checks.map((check) => check.probe(check.host, check.port)));
  checks.forEach((check, index) => {
    ctx.stdout.write(results[index] ? `ok: ${check.name} on ${check.host}:${check.port} answers\n` : `not ok: ${check.failure} from the ${check.name} on ${check.host}:${check.port}\n`);
  });
  return results.every(Boolean) ? 0 : 1;
}
