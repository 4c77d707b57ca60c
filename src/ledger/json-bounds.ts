/**
 * Where JSON text nests deeper than `maxDepth` arrays and objects: the byte offset of the first
 * bracket too deep, or undefined when it stays within. One pass, no allocation, so a hostile
 * document (15 MB of `[[[[…`) is refused in milliseconds before JSON.parse builds it and before
 * anything recursive (the canonical form of the checksum) walks it and runs out of stack.
 * Strings are skipped with their escapes; the text need not be valid JSON.
 */
export function nestingTooDeepAt(text: string, maxDepth: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return undefined;
}
