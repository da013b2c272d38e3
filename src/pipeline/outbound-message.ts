/**
 * What the outbound pipeline carries beside the bytes: the S/MIME form the
 * client itself gave the message, detected once from the header on arrival.
 * Later stages see the signing stage's output, in which our own signature
 * looks like a client's; this tells them apart, so mail the client signed or
 * encrypted is never altered (DESIGN rule 9).
 */
import type { PipelineMessage, Stage } from './types.js';
import type { ClientSmime } from './stages/detect-client-smime.js';

export interface OutboundMessage extends PipelineMessage {
  /** undefined: the client sent no S/MIME at the top level. */
  readonly clientSmime: ClientSmime;
}

/** A stage written for plain PipelineMessages, handing the outbound findings on to the next stage. */
export function carryingFindings(stage: Stage): Stage<OutboundMessage> {
  return {
    name: stage.name,
    async run(message, context) {
      const result = await stage.run(message, context);
      return { ...result, message: { ...result.message, clientSmime: message.clientSmime } };
    },
  };
}
