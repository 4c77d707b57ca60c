import { createHmac, randomBytes } from "node:crypto";
import { basename } from "node:path";
import type { Finding } from "./model/findings.js";
import type { CmuReading, ConfigReading, StickSighting } from "./model/inputs.js";
import type { CodeMeterMode, CodeMeterPart } from "./model/mode.js";
import type { BorrowSectionName, SectionFingerprint } from "./model/server-config.js";
import { parseTrackingLine } from "./model/tracking-line.js";
import type { CodeMeterView } from "./model/view.js";
import type { TrackingLogSource } from "./sources/tracking-log.js";

/**
 * One JSON bundle of everything the CodeMeter mode reads on this host, for a bug report and, once
 * stripped of what the reporter wants private, a test fixture: cmu's outputs, the configuration
 * values keybridge uses with the Borrow sections as fingerprints (never their content), the last
 * lines of each tracking-log file, versions, and the picture keybridge made of it.
 *
 * Names of people and computers (`Client`, `User`, `Server`) are replaced by stable hashes unless
 * redaction is turned off: HMAC-SHA256 with a salt, so the same name gets the same hash within the
 * bundle (borrows can still be followed) but a hash cannot be looked up in a list of likely names
 * without the salt. The salt is random per capture and not in the bundle; pass a fixed one to
 * compare several captures of the same site.
 */

export const CAPTURE_FORMAT = "keybridge-codemeter-capture";
export const CAPTURE_VERSION = 1;
export const REDACTED_KEYS = ["Client", "User", "Server"] as const;

export interface CaptureOptions {
  /** Replace client, user and server names by hashes. Default true. */
  readonly redact?: boolean;
  /** A fixed salt (to compare captures); default: 32 random bytes for this capture only. */
  readonly salt?: string | Uint8Array;
  /** Lines kept from the end of each tracking-log file. Default 200. */
  readonly lastLines?: number;
  /** Free text stored in the bundle, e.g. where it comes from ("SYNTHETIC: simulated installation"). */
  readonly note?: string;
}

/** What was looked for on the host and whether the mode would run there (a capture made by `keybridge codemeter capture`). */
export interface CaptureDetection {
  readonly mode: CodeMeterMode;
  readonly runs: boolean;
  readonly reason: string;
  readonly found: Readonly<Record<CodeMeterPart, boolean>>;
  readonly where: Readonly<Record<CodeMeterPart, string>>;
  readonly findings: readonly Finding[];
  readonly sticks: readonly StickSighting[];
  readonly sticksError: string | null;
}

export interface CaptureSources {
  readonly runtime: { read(): Promise<CmuReading> };
  readonly config: { read(): Promise<ConfigReading> };
  readonly trackingLog: Pick<TrackingLogSource, "tail">;
  /** The picture the mode has made (the watch's `view()`). */
  readonly view: CodeMeterView;
  readonly versions: { readonly keybridge: string };
  readonly now: number;
  readonly detection?: CaptureDetection;
}

export interface CaptureBundle {
  readonly format: typeof CAPTURE_FORMAT;
  readonly version: typeof CAPTURE_VERSION;
  readonly capturedAt: string;
  readonly note: string | null;
  readonly redaction: {
    readonly enabled: boolean;
    readonly method: "hmac-sha256" | null;
    readonly salt: "per-capture" | "fixed" | null;
    readonly keys: readonly string[];
  };
  readonly versions: {
    readonly keybridge: string;
    readonly node: string;
    readonly platform: string;
    readonly arch: string;
    readonly runtime: string | null;
  };
  readonly cmu: {
    readonly state: CmuReading["kind"];
    readonly outputs: { readonly version?: string; readonly list?: string };
    readonly finding: Finding | null;
  };
  readonly config: {
    readonly state: ConfigReading["kind"];
    readonly where: string | null;
    readonly values: Readonly<Record<string, string | number | boolean | null>>;
    readonly borrowSections: Readonly<Record<BorrowSectionName, SectionFingerprint>> | null;
    readonly sectionNames: readonly string[];
    readonly findings: readonly Finding[];
  };
  readonly tracking: {
    readonly dir: string | null;
    readonly files: readonly { readonly name: string; readonly lines: readonly string[] }[];
  };
  readonly view: CodeMeterView;
  /** Null when the capture came from a running watch rather than a look at the host. */
  readonly detection: CaptureDetection | null;
}

type Hasher = (value: string) => string;

function hasher(salt: Uint8Array): Hasher {
  const cache = new Map<string, string>();
  return (value) => {
    let hashed = cache.get(value);
    if (hashed === undefined) {
      hashed = `h-${createHmac("sha256", salt).update(value, "utf8").digest("hex").slice(0, 16)}`;
      cache.set(value, hashed);
    }
    return hashed;
  };
}

const NAMED_VALUE = /\b(Client|User|Server):"((?:[^"\\]|\\.)*)"/gi;

/** A log line with its names hashed; a line that does not parse may hold anything, so it is replaced. */
export function redactLine(line: string, hash: Hasher): string {
  if (!parseTrackingLine(line).ok) return `<unreadable line of ${Buffer.byteLength(line)} bytes left out>`;
  return line.replace(
    NAMED_VALUE,
    (_all, key: string, value: string) => `${key}:"${hash(value.replaceAll('\\"', '"'))}"`,
  );
}

function redactView(view: CodeMeterView, hash: Hasher): CodeMeterView {
  return {
    ...view,
    borrows: view.borrows.map((borrow) => ({
      ...borrow,
      client: borrow.client === null ? null : hash(borrow.client),
      user: borrow.user === null ? null : hash(borrow.user),
    })),
  };
}

function configPart(reading: ConfigReading): CaptureBundle["config"] {
  if (reading.kind !== "ok") {
    return {
      state: reading.kind,
      where: reading.kind === "missing" ? reading.where : (reading.finding.where ?? null),
      values: {},
      borrowSections: null,
      sectionNames: [],
      findings: reading.kind === "failed" ? [reading.finding] : [],
    };
  }
  const { config } = reading;
  return {
    state: "ok",
    where: config.where,
    values: {
      LogLicenseTracking: config.tracking.setting,
      trackingEnabled: config.tracking.enabled,
      LogLicenseTrackingPath: config.tracking.dirSetting,
      trackingDir: config.tracking.dir,
      NetworkPort: config.ports.network,
      CmWANPort: config.ports.wan,
      "HTTP.Port": config.ports.http,
      "HTTPS.Port": config.ports.https,
      BindAddress: config.bindAddress,
      IsNetworkServer: config.isNetworkServer,
      RuntimeVersion: config.runtimeVersion,
    },
    borrowSections: config.borrow,
    sectionNames: config.sectionNames,
    findings: reading.findings,
  };
}

export async function captureBundle(sources: CaptureSources, options: CaptureOptions = {}): Promise<CaptureBundle> {
  const redact = options.redact ?? true;
  const salt =
    options.salt === undefined
      ? randomBytes(32)
      : typeof options.salt === "string"
        ? Buffer.from(options.salt, "utf8")
        : options.salt;
  const hash = hasher(salt);
  const [cmu, config, tails] = await Promise.all([
    sources.runtime.read(),
    sources.config.read(),
    sources.trackingLog.tail(options.lastLines ?? 200),
  ]);
  const outputs = cmu.kind === "ok" ? cmu.outputs : cmu.kind === "failed" ? (cmu.outputs ?? {}) : {};
  return {
    format: CAPTURE_FORMAT,
    version: CAPTURE_VERSION,
    capturedAt: new Date(sources.now).toISOString(),
    note: options.note ?? null,
    redaction: {
      enabled: redact,
      method: redact ? "hmac-sha256" : null,
      salt: redact ? (options.salt === undefined ? "per-capture" : "fixed") : null,
      keys: redact ? [...REDACTED_KEYS] : [],
    },
    versions: {
      keybridge: sources.versions.keybridge,
      node: process.versions.node,
      platform: process.platform,
      arch: process.arch,
      runtime: sources.view.runtime.version,
    },
    cmu: { state: cmu.kind, outputs, finding: cmu.kind === "failed" ? cmu.finding : null },
    config: configPart(config),
    tracking: {
      dir: sources.view.tracking.dir,
      files: tails.map((tail) => ({
        name: basename(tail.file),
        lines: redact ? tail.lines.map((line) => redactLine(line, hash)) : [...tail.lines],
      })),
    },
    view: redact ? redactView(sources.view, hash) : sources.view,
    detection: sources.detection ?? null,
  };
}
