import { UNSAFE_TEXT } from "../protocol/text.js";

/**
 * Everything the CLI prints from data (client names, notes, messages, paths, URLs, webhook names,
 * device names) passes through here, so nothing in the data can act on the terminal: an ESC
 * sequence cannot clear the screen or retitle the window, a CR or LF cannot forge a table row, a
 * bidirectional override cannot reorder what is shown. Each such character (the list of
 * src/protocol/text.ts) is shown as its `\uXXXX` escape instead, which is also valid inside JSON
 * strings, so the same escaping serves `--json`.
 */
function escaped(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** One data value, for a table cell or a sentence: line breaks and tabs escaped too. */
export function safe(value: string | number | boolean | null | undefined): string {
  return String(value).replace(UNSAFE_TEXT, escaped);
}

/**
 * A whole output, as a last line of defence behind `safe`: everything unsafe escaped but the line
 * breaks the renderers put there themselves.
 */
export function safeOutput(text: string): string {
  return text.replace(UNSAFE_TEXT, (char) => (char === "\n" ? char : escaped(char)));
}
