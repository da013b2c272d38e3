/**
 * `siegel files revoke ID [--owner ADDR]`: the link stops working at once
 * and the file is deleted. An administrator's command: without --owner any
 * share may be revoked; with it, only that owner's.
 */
import { ExitCode, type CommandContext } from './context.js';
import { withTransfer } from './files-common.js';

export async function filesRevoke(ctx: CommandContext, id: string, opts: { readonly owner?: string }): Promise<number> {
  return withTransfer(ctx, 'revoke', async (service) => {
    if (await service.revoke(id, opts.owner)) {
      ctx.stdout.write(`Share ${id} revoked; its file is deleted.\n`);
      return ExitCode.ok;
    }
    const whose = opts.owner === undefined ? '' : ` of ${opts.owner}`;
    ctx.stderr.write(`siegel files revoke: no active share ${id}${whose} (unknown, or already revoked)\n`);
    return ExitCode.failure;
  });
}
