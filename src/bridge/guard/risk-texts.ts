import type { HostComponent } from "../../host/index.js";
import type { BorrowRow } from "../../ledger/index.js";
import { RISK_SEVERITY } from "../../vocabulary/index.js";
import type { RiskKind, Severity } from "../api.js";

/** The fixed parts of every risk: its severity, which host component raises which risk, and sentences. */
export const SEVERITY: Readonly<Record<RiskKind, Severity>> = RISK_SEVERITY;

export const HOST_KIND: Partial<Record<HostComponent, RiskKind>> = {
  ips: "host-ip-changed",
  hostname: "host-hostname-changed",
  machineId: "host-machine-id-changed",
  osInstallId: "os-reinstalled",
};

export const MIGRATE = "run `keybridge migrate` (the ledger proves each borrow and rebinds it to this identity)";

export function riskKey(kind: RiskKind, serial: string | undefined): string {
  return `${kind}|${serial ?? ""}`;
}

export function groupBySerial(rows: readonly BorrowRow[]): Map<string, BorrowRow[]> {
  const groups = new Map<string, BorrowRow[]>();
  for (const row of rows) {
    const group = groups.get(row.serial);
    if (group === undefined) groups.set(row.serial, [row]);
    else group.push(row);
  }
  return groups;
}

export function hostChangeText(kind: RiskKind): string {
  switch (kind) {
    case "host-ip-changed":
      return "This server's IP address changed";
    case "host-hostname-changed":
      return "This server's hostname changed";
    case "host-machine-id-changed":
      return "This server's machine id changed";
    default:
      return "The operating system was reinstalled (new install id)";
  }
}

export function hostUndoText(kind: RiskKind): string {
  switch (kind) {
    case "host-ip-changed":
      return "Change the IP address back";
    case "host-hostname-changed":
      return "Change the hostname back";
    default:
      return "Import the ledger export from before the reinstall (keybridge ledger import FILE) if this ledger is new";
  }
}

export function capitalizeFirst(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}
