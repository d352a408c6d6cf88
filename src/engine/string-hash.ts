/**
 * A 32-bit hash of a string for the hand-made hash tables of the hot path (seen ids, user refs):
 * FNV-1a over the UTF-16 code units, then a murmur3 finaliser (ids often differ only at the end).
 */
export function hashOf(id: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
