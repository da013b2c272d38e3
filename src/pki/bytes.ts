/**
 * WebCrypto and pkijs want ArrayBuffer-backed views; Node Buffers may sit on
 * a shared pool. This copies into a fresh ArrayBuffer (cheap for certificates).
 */
export function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}
