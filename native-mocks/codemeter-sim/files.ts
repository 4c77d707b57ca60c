/**
 * SYNTHETIC: the text of the simulated CodeMeter installation's files, built from the grammar of
 * CodeMeter's public help texts (License Tracking entries, Server.ini sections). Nothing here is
 * copied from a real installation; every file the simulator writes says so in its first line
 * (Server.ini) or in its name (the tracking logs).
 */

/** `2012-12-24T08:32:59`: UTC, seconds, as the runtime writes tracking-log times. */
export function logTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** A string value: double-quoted, a quote inside escaped as `\"`. */
export function quoted(value: string): string {
  return `"${value.replaceAll('"', '\\"')}"`;
}

/** Key spelling changed between runtime versions: `LicenseId` up to 6.60, `LicenseID` from 6.81. */
export function idKey(runtimeVersion: string, base: "License" | "Access" | "Borrow" | "App"): string {
  const [major = 0, minor = 0] = runtimeVersion.split(/[.a-z]/i).map(Number);
  return major > 6 || (major === 6 && minor >= 81) ? `${base}ID` : `${base}Id`;
}

export interface IniSectionText {
  readonly name: string;
  readonly values: readonly (readonly [string, string])[];
}

export function serverIniText(sections: readonly IniSectionText[]): string {
  const lines = [
    "; SYNTHETIC: written by keybridge's CodeMeter simulator (native-mocks/codemeter-sim), not by CodeMeter.",
    "; Section and value names follow CodeMeter's documentation; the Borrow sections' content is made up.",
  ];
  for (const section of sections) {
    lines.push(`[${section.name}]`);
    for (const [key, value] of section.values) lines.push(`${key}=${value}`);
    lines.push("");
  }
  return lines.join("\n");
}

/** The name of the tracking log of one firm code: says it is synthetic (real names were not found). */
export function trackingLogName(firmCode: number): string {
  return `synthetic-license-tracking-fc${firmCode}.log`;
}
