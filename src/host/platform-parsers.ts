/** Parsers for the text of platform tools; pure, so they are tested on every OS. */

/** `ioreg -rd1 -c IOPlatformExpertDevice` → the IOPlatformUUID value. */
export function parseIoregPlatformUuid(output: string): string | undefined {
  const match = /"IOPlatformUUID"\s*=\s*"([0-9A-Fa-f-]{32,36})"/.exec(output);
  return match?.[1]?.toLowerCase();
}

/**
 * `reg query KEY /v NAME` → the value's data. REG_DWORD/REG_QWORD data (`0x…`) is returned as a
 * decimal string.
 */
export function parseRegQueryValue(output: string, name: string): string | undefined {
  for (const line of output.split(/\r?\n/)) {
    const match = /^\s+(.+?)\s{2,}(REG_\w+)\s{2,}(.*?)\s*$/.exec(line);
    if (!match || match[1]?.toLowerCase() !== name.toLowerCase()) continue;
    const [, , type, data = ""] = match;
    if ((type === "REG_DWORD" || type === "REG_QWORD") && /^0x[0-9a-f]+$/i.test(data)) {
      return BigInt(data).toString();
    }
    return data === "" ? undefined : data;
  }
  return undefined;
}

/** The first dotted version number in a tool's output, e.g. "CodeMeter for Linux v8.20a" → "8.20a". */
export function parseVersionText(output: string): string | undefined {
  const match = /(\d+\.\d+(?:[.-]\w+)*[a-z]?)/i.exec(output);
  return match?.[1];
}

/** A `CFBundleShortVersionString` out of an XML Info.plist. */
export function parsePlistVersion(plist: string): string | undefined {
  const match = /<key>CFBundleShortVersionString<\/key>\s*<string>([^<]+)<\/string>/.exec(plist);
  return match?.[1]?.trim();
}
