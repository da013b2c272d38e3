import type { PipelineMessage, PipelineResult, Stage, StageAction, StageContext } from './types.js';

/**
 * Runs stages in order; each stage sees the previous stage's output. When a
 * stage fails, what earlier stages did outside the message is undone before
 * the error goes on; the result carries the undo for a failed delivery.
 */
export async function runStages<M extends PipelineMessage>(stages: readonly Stage<M>[], message: M, context: StageContext): Promise<PipelineResult<M>> {
  const actions: StageAction[] = [];
  const undos: Array<() => Promise<void>> = [];
  const undo = async (): Promise<void> => {
    for (const step of undos.reverse()) await step().catch(() => undefined);
    undos.length = 0;
  };
  let current = message;
  for (const stage of stages) {
    let result;
    try {
      result = await stage.run(current, context);
    } catch (err) {
      await undo();
      throw err;
    }
    actions.push(result.action);
    if (result.undo) undos.push(result.undo);
    current = result.message;
  }
  return { message: current, actions, ...(undos.length > 0 ? { undo } : {}) };
}
