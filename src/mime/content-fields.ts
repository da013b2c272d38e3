/**
 * Which header fields describe the MIME entity and so move with it into a
 * signed or encrypted part: those named Content-*, except the ones that
 * describe the message and stay in its outer header, where clients look for
 * them: Outlook's Content-Class (it tells a meeting request from a note)
 * and the X.400 gateway fields. One rule, because the canonical fast path
 * and the MIME splitter must sign the same bytes for the same message.
 */
const MESSAGE_LEVEL_CONTENT_FIELDS = new Set(['content-class', 'content-return', 'content-identifier']);

/** `name` as in the header; compared without case. */
export function isEntityContentField(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('content-') && !MESSAGE_LEVEL_CONTENT_FIELDS.has(lower);
}
