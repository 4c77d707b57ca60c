/**
 * What keybridge understands of `cmu` output. Its text is not a stable interface, so only lines
 * known to exist are read: `CodeMeter-Service: … not running`, a version number, `Result: N
 * CmContainer(s) listed.` and container serials (`<mask>-<number>`, e.g. `3-6903986`). Every
 * other line is kept raw by the caller, never an error.
 */

export interface CmuVersionInfo {
  /** The runtime version cmu reports, e.g. `8.20a`; null when no version line was recognised. */
  readonly version: string | null;
  /** false when cmu says `not running`; null when it says nothing about the service. */
  readonly serviceRunning: boolean | null;
  readonly operatingSystem: string | null;
  /** Lines recognised; 0 means the output is not cmu's. */
  readonly recognised: number;
}

export interface CmuListInfo {
  /** From `Result: N CmContainer(s) listed.`; null when that line is absent. */
  readonly count: number | null;
  /** Serials printed, in order, without duplicates. */
  readonly serials: readonly string[];
  readonly recognised: number;
}

const SERVICE_LINE = /^\s*CodeMeter-Service\s*:\s*(.*)$/i;
const OS_LINE = /^\s*Operating System\s*:\s*(.*)$/i;
const VERSION = /\b(?:version|v)\s*:?\s*v?(\d+\.\d+[0-9a-z.]*)/i;
const RESULT_LINE = /^\s*Result:\s*(\d+)\s+CmContainer\(s\)\s+listed\.?\s*$/i;
const SERIAL = /(?<![\w.-])(\d{1,3}-\d{3,10})(?![\w.-])/g;

function lines(text: string): string[] {
  return text.split(/\r\n|\n|\r/);
}

export function parseCmuVersion(text: string): CmuVersionInfo {
  let version: string | null = null;
  let serviceRunning: boolean | null = null;
  let operatingSystem: string | null = null;
  let recognised = 0;
  for (const line of lines(text)) {
    const service = SERVICE_LINE.exec(line);
    if (service) {
      recognised++;
      const rest = service[1] ?? "";
      serviceRunning = !/not\s+running/i.test(rest);
      const inService = VERSION.exec(rest) ?? /(\d+\.\d+[0-9a-z.]*)/i.exec(rest);
      if (serviceRunning && inService?.[1] !== undefined) version = inService[1];
      continue;
    }
    const os = OS_LINE.exec(line);
    if (os) {
      recognised++;
      operatingSystem = (os[1] ?? "").trim() || null;
      continue;
    }
    if (version === null) {
      const found = VERSION.exec(line);
      if (found?.[1] !== undefined && /codemeter|cmu|version/i.test(line)) {
        recognised++;
        version = found[1];
      }
    }
  }
  return { version, serviceRunning, operatingSystem, recognised };
}

export function parseCmuList(text: string): CmuListInfo {
  let count: number | null = null;
  const serials: string[] = [];
  let recognised = 0;
  for (const line of lines(text)) {
    const result = RESULT_LINE.exec(line);
    if (result) {
      recognised++;
      count = Number(result[1]);
      continue;
    }
    for (const match of line.matchAll(SERIAL)) {
      const serial = match[1];
      if (serial !== undefined && !serials.includes(serial)) {
        serials.push(serial);
        recognised++;
      }
    }
  }
  return { count, serials, recognised };
}
