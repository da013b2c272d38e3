/**
 * `siegel health`: exit 0 when the submission listener answers with a 220
 * greeting within 5 seconds (used by the Docker HEALTHCHECK).
 */
import net from 'node:net';
import type { CommandContext } from './context.js';

export async function health(ctx: CommandContext): Promise<number> {
  const { host, port } = ctx.config.smtp.submission.listen;
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const ok = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: target, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(5000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => {
      socket.write('QUIT\r\n');
      done(data.toString('latin1').startsWith('220'));
    });
  });
  ctx.stdout.write(ok ? `ok: submission listener on ${target}:${port} answers\n` : `not ok: no SMTP greeting from ${target}:${port}\n`);
  return ok ? 0 : 1;
}
