/**
 * `siegel passwd --user NAME`: reads a password (one line) from stdin and
 * prints the line for the SMTP AUTH credentials file
 * (`NAME:$scrypt$N=16384,r=8,p=1$salt$hash`). The password is never echoed
 * or logged; stdin can be a pipe (`printf '%s\n' "$PW" | siegel passwd ...`).
 */
import { credentialsLine, hashPassword, invalidUserName } from '../smtp/credentials.js';
import { ExitCode, type CommandContext } from './context.js';

export { hashPassword, verifyPassword } from '../smtp/credentials.js';

/** The first line of a stream, without its line ending; stops reading there. */
async function readLine(stream: NodeJS.ReadableStream, limit = 4096): Promise<string | undefined> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    const end = text.indexOf('\n');
    if (end >= 0) return text.slice(0, end).replace(/\r$/, '');
    if (text.length > limit) return undefined;
  }
  return text === '' ? undefined : text.replace(/\r$/, '');
}

export async function passwd(ctx: Pick<CommandContext, 'stdin' | 'stdout' | 'stderr'>, opts: { user: string }): Promise<number> {
  const problem = invalidUserName(opts.user);
  if (problem) {
    ctx.stderr.write(`siegel passwd: ${problem}\n`);
    return ExitCode.usage;
  }
  const password = await readLine(ctx.stdin);
  if (password === undefined || password === '') {
    ctx.stderr.write('siegel passwd: expected the password as one line on stdin\n');
    return ExitCode.usage;
  }
  const line = credentialsLine(opts.user, await hashPassword(password));
  ctx.stdout.write(`${line}\n`);
  return ExitCode.ok;
}
