import type { CmuListInfo, CmuVersionInfo } from "./cmu-output.js";
import type { TrackingEntry } from "./entries.js";
import type { Finding } from "./findings.js";
import type { ServerConfig } from "./server-config.js";

/** The readings the sources hand to the borrow book. Each carries what it saw; nothing here does I/O. */

/** A CmStick on USB now. */
export interface StickSighting {
  /** As USB reports it; empty for sticks in mass-storage mode (then `path` tells them apart). */
  readonly serial: string;
  readonly model: string;
  readonly path: string;
  readonly productId: number;
}

export type CmuReading =
  | {
      readonly kind: "ok";
      readonly version: CmuVersionInfo;
      readonly list: CmuListInfo;
      /** Exactly what cmu printed, for the capture bundle. */
      readonly outputs: { readonly version: string; readonly list: string };
    }
  /** No cmu where it was looked for: a state (CodeMeter not installed, or not on PATH), not an error. */
  | { readonly kind: "missing"; readonly command: string }
  | {
      readonly kind: "failed";
      readonly finding: Finding;
      readonly outputs?: { readonly version?: string; readonly list?: string };
    };

export type ConfigReading =
  | { readonly kind: "ok"; readonly config: ServerConfig; readonly findings: readonly Finding[] }
  /** No Server.ini / registry key: CodeMeter is not installed, or was removed. */
  | { readonly kind: "missing"; readonly where: string }
  | { readonly kind: "failed"; readonly finding: Finding };

export interface TrackingStatus {
  readonly dir: string | null;
  /** `ok`: the directory was listed; `missing`/`unreadable`: a finding says why; `none`: no directory known. */
  readonly state: "ok" | "missing" | "unreadable" | "none";
  readonly files: number;
  readonly findings: readonly Finding[];
  /** Totals since keybridge started following. */
  readonly malformedLines: number;
  readonly oversizedLines: number;
}

/** The host identity components CodeMeter borrows are known to depend on. */
export interface HostSnapshot {
  readonly ips: readonly string[];
  readonly hostname: string;
  readonly machineId: string;
}

export type WatchInput =
  | {
      readonly type: "entries";
      readonly now: number;
      /** A stable id of the file the entries come from (it survives renames). */
      readonly stream: string;
      readonly entries: readonly TrackingEntry[];
      /** True when this batch ends at the current end of the file. */
      readonly atEnd: boolean;
    }
  | { readonly type: "sticks"; readonly now: number; readonly sticks: readonly StickSighting[] }
  | { readonly type: "cmu"; readonly now: number; readonly reading: CmuReading }
  | { readonly type: "config"; readonly now: number; readonly reading: ConfigReading }
  | {
      readonly type: "tracking";
      readonly now: number;
      readonly status: TrackingStatus;
      /** Every file was read to its end (nothing left pending). */
      readonly caughtUp: boolean;
    }
  | {
      readonly type: "host";
      readonly now: number;
      readonly host: HostSnapshot;
      /** The runtime version the host probe found (package manager, binary); undefined when not installed. */
      readonly runtimeVersion: string | undefined;
    }
  | {
      readonly type: "clock-jump";
      readonly now: number;
      readonly direction: "forward" | "backward";
      readonly jumpMs: number;
    }
  | { readonly type: "tick"; readonly now: number };
