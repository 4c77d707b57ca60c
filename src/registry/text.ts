const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` survives UTF-8 and UTF-16 storage unchanged: no NUL, no unpaired surrogate. */
const NUL_OR_SURROGATE = /[\0\uD800-\uDFFF]/;

export function isStorableText(text: string): boolean {
  // Fast path: almost every name is free of NULs and surrogates.
  if (!NUL_OR_SURROGATE.test(text)) return true;
  return !text.includes("\0") && !LONE_SURROGATE.test(text);
}
