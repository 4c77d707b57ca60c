import type { Finding } from "./findings.js";

/**
 * A tolerant, read-only INI reader for CodeMeter's Server.ini. It never fails: a duplicate
 * section, a line it cannot read or bytes that are not valid text become findings, and what can
 * be read is kept. Sections with the same name (any case) are merged in file order, as a reader
 * that takes the file line by line would see them.
 */

export interface IniValue {
  readonly key: string;
  readonly value: string;
}

export interface IniSection {
  /** As first written, e.g. `ServerSearchList\Server1`. */
  readonly name: string;
  readonly values: IniValue[];
}

export interface IniDocument {
  readonly sections: IniSection[];
  readonly findings: Finding[];
}

/** Decodes the file's bytes: UTF-16 with its BOM, otherwise UTF-8 (replacement characters and a finding when invalid). */
export function decodeIniBytes(bytes: Uint8Array, where: string): { text: string; findings: Finding[] } {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    return { text: new TextDecoder("utf-16le").decode(bytes.subarray(2)), findings: [] };
  }
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    return { text: new TextDecoder("utf-16be").decode(bytes.subarray(2)), findings: [] };
  }
  const body =
    bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(body), findings: [] };
  } catch {
    return {
      text: new TextDecoder("utf-8").decode(body),
      findings: [
        {
          code: "config-invalid-encoding",
          message: "the file is not valid UTF-8; unreadable bytes were replaced, the values read may be wrong",
          where,
        },
      ],
    };
  }
}

export function parseIni(text: string, where: string): IniDocument {
  const sections: IniSection[] = [];
  const byName = new Map<string, IniSection>();
  const duplicates = new Set<string>();
  const findings: Finding[] = [];
  let current: IniSection | undefined;
  let malformed = 0;
  let firstMalformed = 0;
  let outside = 0;
  const lines = text.split(/\r\n|\n|\r/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) return;
    if (line.startsWith("[")) {
      const close = line.indexOf("]");
      if (close < 0) {
        malformed++;
        if (firstMalformed === 0) firstMalformed = index + 1;
        current = undefined;
        return;
      }
      const name = line.slice(1, close).trim();
      const folded = name.toLowerCase();
      const known = byName.get(folded);
      if (known !== undefined) {
        duplicates.add(known.name);
        current = known;
        return;
      }
      current = { name, values: [] };
      byName.set(folded, current);
      sections.push(current);
      return;
    }
    const equals = line.indexOf("=");
    if (equals <= 0) {
      malformed++;
      if (firstMalformed === 0) firstMalformed = index + 1;
      return;
    }
    if (current === undefined) {
      outside++;
      return;
    }
    current.values.push({ key: line.slice(0, equals).trim(), value: line.slice(equals + 1).trim() });
  });
  for (const name of duplicates) {
    findings.push({
      code: "config-duplicate-section",
      message: `section [${name}] appears more than once; its parts were read together, in file order`,
      where,
    });
  }
  if (malformed + outside > 0) {
    const parts = [];
    if (malformed > 0)
      parts.push(`${malformed} line(s) that are neither a section nor key=value (first: line ${firstMalformed})`);
    if (outside > 0) parts.push(`${outside} value(s) before any section`);
    findings.push({ code: "config-malformed-line", message: `skipped ${parts.join(" and ")}`, where });
  }
  return { sections, findings };
}
