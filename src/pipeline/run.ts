import type { PipelineMessage, PipelineResult, Stage, StageAction, StageContext } from './types.js';

/** Runs stages in order; each stage sees the previous stage's output. */
export async function runStages<M extends PipelineMessage>(stages: readonly Stage<M>[], message: M, context: StageContext): Promise<PipelineResult<M>> {
  const actions: StageAction[] = [];
  let current = message;
  for (const stage of stages) {
    const result = await stage.run(current, context);
    actions.push(result.action);
    current = result.message;
  }
  return { message: current, actions };
}
