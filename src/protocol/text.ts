/**
 * Characters that change how text is shown rather than what it says: C0 and C1 controls, DEL,
 * line and paragraph separators, and the bidirectional marks, embeddings, overrides and isolates
 * (U+061C, U+200E/F, U+202A–E, U+2066–9), plus unpaired surrogates (not text at all). A client
 * name holding one is refused at every edge (API, library, CLI); anything shown on a terminal
 * escapes them visibly. One list, so what is refused and what is escaped never drift apart.
 */
const C0_NAMES = [
  "NUL",
  "SOH",
  "STX",
  "ETX",
  "EOT",
  "ENQ",
  "ACK",
  "BEL",
  "BS",
  "TAB",
  "LF",
  "VT",
  "FF",
  "CR",
  "SO",
  "SI",
  "DLE",
  "DC1",
  "DC2",
  "DC3",
  "DC4",
  "NAK",
  "SYN",
  "ETB",
  "CAN",
  "EM",
  "SUB",
  "ESC",
  "FS",
  "GS",
  "RS",
  "US",
] as const;

const OTHER_NAMES: Readonly<Record<number, string>> = {
  127: "DEL",
  1564: "ARABIC LETTER MARK",
  8206: "LEFT-TO-RIGHT MARK",
  8207: "RIGHT-TO-LEFT MARK",
  8232: "LINE SEPARATOR",
  8233: "PARAGRAPH SEPARATOR",
  8234: "LEFT-TO-RIGHT EMBEDDING",
  8235: "RIGHT-TO-LEFT EMBEDDING",
  8236: "POP DIRECTIONAL FORMATTING",
  8237: "LEFT-TO-RIGHT OVERRIDE",
  8238: "RIGHT-TO-LEFT OVERRIDE",
  8294: "LEFT-TO-RIGHT ISOLATE",
  8295: "RIGHT-TO-LEFT ISOLATE",
  8296: "FIRST STRONG ISOLATE",
  8297: "POP DIRECTIONAL ISOLATE",
};

/**
 * Matches one unsafe character: a control, a separator, a bidi control or an unpaired surrogate.
 * Global: callers reset `lastIndex` or use it through the functions below.
 */
export const UNSAFE_TEXT =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `U+001B (ESC)`, `U+202E (RIGHT-TO-LEFT OVERRIDE)`, `U+0085 (C1 control)`. */
export function characterName(codePoint: number): string {
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
  const name =
    codePoint < 0x20
      ? C0_NAMES[codePoint]
      : (OTHER_NAMES[codePoint] ??
        (codePoint >= 0x80 && codePoint <= 0x9f
          ? "C1 control"
          : codePoint >= 0xd800 && codePoint <= 0xdfff
            ? "unpaired surrogate"
            : undefined));
  return name === undefined ? hex : `${hex} (${name})`;
}

export interface UnsafeCharacter {
  /** Its position in the text, counting characters (code points) from 1. */
  position: number;
  codePoint: number;
  /** `U+0000 (NUL)`. */
  name: string;
}

/** The first unsafe character of `text`, or undefined when there is none. */
export function firstUnsafeCharacter(text: string): UnsafeCharacter | undefined {
  UNSAFE_TEXT.lastIndex = 0;
  const match = UNSAFE_TEXT.exec(text);
  UNSAFE_TEXT.lastIndex = 0;
  if (match === null) return undefined;
  const codePoint = match[0].charCodeAt(0);
  return { position: [...text.slice(0, match.index)].length + 1, codePoint, name: characterName(codePoint) };
}

/** `holds U+0000 (NUL) at position 3; control characters ... are not allowed`: why text is refused. */
export function unsafeTextReason(found: UnsafeCharacter): string {
  return (
    `holds ${found.name} at position ${found.position}; control characters, line breaks, ` +
    "bidirectional controls and unpaired surrogates are not allowed"
  );
}
