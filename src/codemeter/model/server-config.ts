import { createHash } from "node:crypto";
import type { IniSection } from "./ini.js";

/**
 * What keybridge reads from CodeMeter's server configuration (Server.ini on Linux and macOS, the
 * registry key on Windows, both given here as sections of key=value): License Tracking, ports,
 * bind address, runtime version, and the three Borrow sections. The Borrow sections hold
 * CodeMeter's own copy of each borrow in a form that is not public, so they are kept opaque: is
 * the section there, how many values does it hold, and a hash of its content.
 */

export const BORROW_SECTIONS = ["BorrowClient", "BorrowServer", "BorrowManage"] as const;
export type BorrowSectionName = (typeof BORROW_SECTIONS)[number];

export interface SectionFingerprint {
  readonly present: boolean;
  /** Values in the section and in its nested sections (`[BorrowServer\…]`). */
  readonly values: number;
  /** SHA-256 (hex) of the content, sorted, so the order values are listed in does not matter; null when absent. */
  readonly sha256: string | null;
}

export interface ServerConfig {
  readonly origin: "ini" | "registry";
  /** The file or registry key read. */
  readonly where: string;
  readonly tracking: {
    /** `LogLicenseTracking=1`; absent means off (CodeMeter's default). */
    readonly enabled: boolean;
    /** The raw setting, null when absent. */
    readonly setting: string | null;
    /** `LogLicenseTrackingPath`, or the platform's default when absent. */
    readonly dir: string;
    readonly dirSetting: string | null;
  };
  readonly ports: {
    readonly network: number | null;
    readonly wan: number | null;
    readonly http: number | null;
    readonly https: number | null;
  };
  readonly bindAddress: string | null;
  readonly isNetworkServer: boolean | null;
  /** Windows keeps `RuntimeVersion` in the key; null elsewhere. */
  readonly runtimeVersion: string | null;
  readonly borrow: Readonly<Record<BorrowSectionName, SectionFingerprint>>;
  /** Every section name, for the capture bundle. */
  readonly sectionNames: readonly string[];
}

export interface ExtractContext {
  readonly origin: "ini" | "registry";
  readonly where: string;
  /** Where the log lives when `LogLicenseTrackingPath` is not set. */
  readonly defaultTrackingDir: string;
}

function findSection(sections: readonly IniSection[], name: string): IniSection | undefined {
  const folded = name.toLowerCase();
  return sections.find((section) => section.name.toLowerCase() === folded);
}

/** The last value of `key` in the section (a reader taking the file line by line keeps the last). */
function valueIn(section: IniSection | undefined, key: string): string | null {
  if (section === undefined) return null;
  const folded = key.toLowerCase();
  let found: string | null = null;
  for (const value of section.values) if (value.key.toLowerCase() === folded) found = value.value;
  return found;
}

function port(text: string | null): number | null {
  if (text === null || !/^\d{1,5}$/.test(text)) return null;
  const value = Number(text);
  return value > 0 && value < 65_536 ? value : null;
}

function flag(text: string | null): boolean | null {
  if (text === null) return null;
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "1" || trimmed === "true" || trimmed === "yes") return true;
  if (trimmed === "0" || trimmed === "false" || trimmed === "no") return false;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number !== 0 : null;
}

function nonEmpty(text: string | null): string | null {
  return text === null || text.trim() === "" ? null : text.trim();
}

/** Presence, count and hash of a section with everything nested below it. */
export function fingerprintSection(sections: readonly IniSection[], name: string): SectionFingerprint {
  const folded = name.toLowerCase();
  const prefix = `${folded}\\`;
  const parts = sections
    .filter((section) => {
      const own = section.name.toLowerCase();
      return own === folded || own.startsWith(prefix);
    })
    .map((section) => ({ relative: section.name.slice(name.length).toLowerCase(), values: section.values }))
    .sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
  if (parts.length === 0) return { present: false, values: 0, sha256: null };
  const hash = createHash("sha256");
  let count = 0;
  for (const part of parts) {
    hash.update(`[${part.relative}]\n`);
    const lines = part.values.map((value) => `${value.key}=${value.value}\n`).sort();
    count += lines.length;
    for (const line of lines) hash.update(line);
  }
  return { present: true, values: count, sha256: hash.digest("hex") };
}

export function extractServerConfig(sections: readonly IniSection[], context: ExtractContext): ServerConfig {
  const general = findSection(sections, "General");
  const root = findSection(sections, "");
  const generalValue = (key: string) => valueIn(general, key) ?? valueIn(root, key);
  const tracking = generalValue("LogLicenseTracking");
  const trackingPath = nonEmpty(generalValue("LogLicenseTrackingPath"));
  const borrow = {} as Record<BorrowSectionName, SectionFingerprint>;
  for (const name of BORROW_SECTIONS) borrow[name] = fingerprintSection(sections, name);
  return {
    origin: context.origin,
    where: context.where,
    tracking: {
      enabled: flag(tracking) ?? false,
      setting: tracking,
      dir: trackingPath ?? context.defaultTrackingDir,
      dirSetting: trackingPath,
    },
    ports: {
      network: port(generalValue("NetworkPort")),
      wan: port(generalValue("CmWANPort")),
      http: port(valueIn(findSection(sections, "HTTP"), "Port")),
      https: port(valueIn(findSection(sections, "HTTPS"), "Port")),
    },
    bindAddress: nonEmpty(generalValue("BindAddress")),
    isNetworkServer: flag(generalValue("IsNetworkServer")),
    runtimeVersion: nonEmpty(valueIn(root, "RuntimeVersion") ?? valueIn(general, "RuntimeVersion")),
    borrow,
    sectionNames: sections.map((section) => section.name),
  };
}
