/**
 * What flows through a pipeline: the SMTP envelope and the exact message
 * bytes. Stages return a new PipelineMessage; untouched bytes stay untouched.
 */
export interface Envelope {
  /** MAIL FROM address ('' for the null sender). */
  readonly mailFrom: string;
  /** RCPT TO addresses, in order. */
  readonly rcptTo: readonly string[];
  /** The SMTP AUTH login of the client, when it authenticated. */
  readonly authenticatedUser?: string;
}

export interface PipelineMessage {
  readonly envelope: Envelope;
  /**
   * The complete message (headers and body) as byte chunks, in order. A
   * stage's output is mostly views into its input, so a large message is
   * not copied stage by stage (DESIGN rule 7); chunks are never modified.
   */
  readonly chunks: readonly Buffer[];
  /** Total size in bytes. */
  readonly size: number;
}

/** What a stage did, for the one log line per message. */
export interface StageAction {
  readonly stage: string;
  /** Short machine-readable outcome, e.g. "signed", "unchanged", "skipped". */
  readonly action: string;
  /** Extra fields for the log line (never message content or secrets). */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface StageContext {
  /** Queue id of this message, for logs. */
  readonly queueId: string;
  /** The injected clock. */
  readonly now: () => Date;
}

export interface StageResult<M extends PipelineMessage = PipelineMessage> {
  readonly message: M;
  readonly action: StageAction;
  /**
   * Takes back what the stage did outside the message (links it created),
   * for when the message is not delivered after all: the client sends it
   * again, and the first attempt must not leave files behind that use up
   * the sender's quota. Never throws.
   */
  readonly undo?: () => Promise<void>;
}

/** A step of a pipeline; M lets a pipeline carry its own findings from stage to stage (inbound verdicts). */
export interface Stage<M extends PipelineMessage = PipelineMessage> {
  readonly name: string;
  run(message: M, context: StageContext): Promise<StageResult<M>>;
}

/** Where a processed message goes instead of the listener's next hop (a pipeline decision, the edge only routes). */
export type Destination = 'quarantine';

export interface PipelineResult<M extends PipelineMessage = PipelineMessage> {
  readonly message: M;
  readonly actions: readonly StageAction[];
  /** Absent: the listener's next hop. */
  readonly destination?: Destination;
  /** Every stage's undo, for an edge whose delivery failed (see StageResult.undo). */
  readonly undo?: () => Promise<void>;
}
