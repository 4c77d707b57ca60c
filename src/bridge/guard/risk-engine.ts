import { BehaviorSubject, type Observable, type Subscription } from "rxjs";
import type { ClockJumpEvent, HostChangedEvent, HostComponent } from "../../host/index.js";
import type { BorrowRow } from "../../ledger/index.js";
import { formatTime } from "../../reconcile/index.js";
import type { BridgeEvent, RiskView } from "../api.js";
import { describeLedgerProblem } from "../ledger-watch.js";
import type { RiskSource } from "../risk-source.js";
import { isTagUnknown } from "../tag-unknown.js";
import { describeBorrows, firstExpiry, lastExpiry, plural } from "./describe.js";
import { maintenanceRisk } from "./maintenance-risk.js";
import type { DesiredRisk as Desired, RegistryHealth, RiskEngineInputs, RiskEngineOptions } from "./risk-inputs.js";
import {
  capitalizeFirst,
  groupBySerial,
  HOST_KIND,
  hostChangeText,
  hostUndoText,
  MIGRATE,
  riskKey,
  SEVERITY,
} from "./risk-texts.js";

export type { MaintenanceWindow, RegistryHealth, RiskEngineInputs, RiskEngineOptions } from "./risk-inputs.js";

/**
 * Turns what the bridge observes into open risks. Facts (a key gone, a host component changed, a
 * clock jump, a lost registry...) are remembered as they arrive; after every input the full set
 * of risks is derived again from the facts and the outstanding borrows, and compared with the
 * open set, so a risk clears by itself once its cause is gone or nothing is left to endanger.
 */
export class RiskEngine implements RiskSource {
  private readonly open = new Map<string, RiskView>();
  private readonly subject = new BehaviorSubject<RiskView[]>([]);
  readonly risks$: Observable<RiskView[]> = this.subject.asObservable();

  private readonly counterfeit = new Map<string, number>();
  private readonly movedKeys = new Map<string, number>();
  private readonly hostChanged = new Map<HostComponent, number>();
  private readonly driverRemoved = new Map<string, number>();
  private driverChangedAt: number | undefined;
  private clockNetMs = 0;
  private clockSince: number | undefined;
  private registry: { health: RegistryHealth; since: number; detail?: string } | undefined;
  private ledgerRebuiltAt: number | undefined;
  private readonly pendingUpdates = new Map<string, number>();
  private readonly since = new Map<string, number>();

  private readonly subscriptions: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pollMs: number;
  private readonly clockThresholdMs: number;
  private readonly now: () => number;
  private closed = false;
  /**
   * The last evaluation found every held borrow safe (its key present, bound to this host, its tag
   * known) and no fact that endangers borrows in general; only key-counterfeit, which no borrow
   * affects, may be open. While quiet, a borrow leaving cannot raise or clear a risk, and a new
   * borrow can only if its own row is endangered.
   */
  private quiet = false;

  constructor(
    private readonly inputs: RiskEngineInputs,
    options: RiskEngineOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 5000;
    this.clockThresholdMs = options.clockThresholdMs ?? 15 * 60_000;
    this.now = options.now ?? Date.now;
    if (options.ledgerRebuilt === true) this.ledgerRebuiltAt = this.now();
  }

  /** Subscribes to the inputs and evaluates once; call after the key manager has attached the keys present. */
  start(): void {
    if (this.closed || this.subscriptions.length > 0) return;
    const { inputs } = this;
    this.subscriptions.push(inputs.events$.subscribe((event) => this.onEvent(event)));
    if (inputs.hostChanges$) this.subscriptions.push(inputs.hostChanges$.subscribe((e) => this.onHostChanged(e)));
    if (inputs.clockJumps$) this.subscriptions.push(inputs.clockJumps$.subscribe((e) => this.onClockJump(e)));
    if (inputs.registry$) {
      this.subscriptions.push(inputs.registry$.subscribe((report) => this.noteRegistry(report.health, report.detail)));
    }
    this.timer = setInterval(() => this.evaluate(), this.pollMs);
    this.timer.unref();
    this.evaluate();
  }

  risks(): RiskView[] {
    return this.subject.getValue();
  }

  /** The mirror found the registry lost, corrupt or healthy again. */
  noteRegistry(health: RegistryHealth, detail?: string): void {
    if (health === "healthy") this.registry = undefined;
    else if (this.registry?.health !== health) this.registry = { health, since: this.now(), detail };
    this.evaluate();
  }

  /** A license update of this key was refused because borrows are out; the risk stays until they are returned. */
  noteLicenseUpdatePending(serial: string): void {
    if (!this.pendingUpdates.has(serial)) this.pendingUpdates.set(serial, this.now());
    this.evaluate();
  }

  noteLicenseUpdated(serial: string): void {
    this.pendingUpdates.delete(serial);
    this.evaluate();
  }

  noteLedgerRebuilt(): void {
    this.ledgerRebuiltAt ??= this.now();
    this.evaluate();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions.length = 0;
    this.subject.complete();
  }

  private onEvent(event: BridgeEvent): void {
    if (event.type === "risk.raised" || event.type === "risk.cleared") return;
    // Host and clock facts arrive on their own streams; judging on the bus's copy first would see a
    // changed binding without its cause.
    if (event.type === "host.changed" || event.type === "clock.jump") return;
    const serial = event.serial;
    switch (event.type) {
      case "key.counterfeit":
        if (serial) this.counterfeit.set(serial, this.counterfeit.get(serial) ?? this.now());
        break;
      case "key.attached":
        // The genuine key (its answers verified with the pinned public key) is back under this serial.
        if (serial && event.details?.kind !== "codemeter") this.counterfeit.delete(serial);
        break;
      case "key.moved":
        if (serial) this.movedKeys.set(serial, this.movedKeys.get(serial) ?? this.now());
        break;
      case "ledger.rebuilt":
        this.ledgerRebuiltAt ??= this.now();
        break;
      case "registry.repaired":
        this.registry = undefined;
        break;
      case "reconcile.repaired":
        this.registry = undefined;
        this.driverChangedAt = undefined;
        break;
      case "license.updated":
        if (serial) this.pendingUpdates.delete(serial);
        break;
      case "borrow.returned":
      case "borrow.settled":
      case "borrow.dummy":
        if (this.quiet) return;
        break;
      case "borrow.created":
        if (this.quiet && serial !== undefined && event.borrow !== undefined && this.isSafe(serial, event.borrow.id)) {
          return;
        }
        break;
      default:
        break;
    }
    this.evaluate();
  }

  /** A new borrow that endangers nothing: on a present key, bound to this host, with a known tag, not expired. */
  private isSafe(serial: string, id: number): boolean {
    const row = this.inputs.borrow?.(serial, id);
    return (
      row !== undefined &&
      row.state === "active" &&
      !isTagUnknown(row) &&
      this.inputs.isPresent(serial) &&
      row.binding === this.inputs.currentBinding() &&
      this.inputs.keyNow(serial) < row.expiresAt
    );
  }

  private hasBorrowFacts(): boolean {
    return (
      // A return can clear the maintenance risk, so borrow events must be judged in full.
      (this.inputs.maintenance?.() ?? null) !== null ||
      this.hostChanged.size > 0 ||
      this.movedKeys.size > 0 ||
      this.driverRemoved.size > 0 ||
      this.pendingUpdates.size > 0 ||
      this.driverChangedAt !== undefined ||
      this.clockSince !== undefined ||
      this.registry !== undefined ||
      this.ledgerRebuiltAt !== undefined
    );
  }

  private onHostChanged(event: HostChangedEvent): void {
    const at = event.at.getTime();
    for (const change of event.changes) {
      if (change.component === "driver") {
        const before = (change.before ?? {}) as Record<string, string | undefined>;
        const after = (change.after ?? {}) as Record<string, string | undefined>;
        for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
          if (before[name] !== undefined && after[name] === undefined) this.driverRemoved.set(name, at);
          else if (after[name] !== undefined) {
            if (this.driverRemoved.delete(name)) continue;
            if (before[name] !== after[name]) this.driverChangedAt ??= at;
          }
        }
      } else if (event.bindingChanged && HOST_KIND[change.component] !== undefined) {
        if (!this.hostChanged.has(change.component)) this.hostChanged.set(change.component, at);
      }
    }
    this.evaluate();
  }

  private onClockJump(event: ClockJumpEvent): void {
    this.clockNetMs += event.direction === "forward" ? event.jumpMs : -event.jumpMs;
    if (Math.abs(this.clockNetMs) < this.clockThresholdMs) {
      this.clockNetMs = 0;
      this.clockSince = undefined;
    } else {
      this.clockSince ??= event.at.getTime();
    }
    this.evaluate();
  }

  /** Derives the risks from the facts and the borrows now, and publishes the difference. */
  evaluate(): void {
    if (this.closed) return;
    const desired = this.derive();
    this.quiet = !this.hasBorrowFacts() && desired.every((risk) => risk.kind === "key-counterfeit");
    const wanted = new Map<string, Desired>();
    for (const risk of desired) wanted.set(riskKey(risk.kind, risk.serial), risk);

    let changed = false;
    for (const [key, view] of this.open) {
      if (wanted.has(key)) continue;
      this.open.delete(key);
      this.since.delete(key);
      changed = true;
      this.inputs.emit("risk.cleared", `resolved: ${view.message}`, {
        ...(view.serial === undefined ? {} : { serial: view.serial }),
        risk: view,
      });
    }
    const raised: RiskView[] = [];
    for (const [key, risk] of wanted) {
      const existing = this.open.get(key);
      const borrowIds = risk.rows.map((row) => row.id).sort((a, b) => a - b);
      if (existing !== undefined && existing.message === risk.message && existing.advice === risk.advice) continue;
      const view: RiskView = {
        kind: risk.kind,
        source: "keybridge",
        severity: SEVERITY[risk.kind],
        message: risk.message,
        advice: risk.advice,
        since: existing?.since ?? new Date(this.factSince(risk) ?? this.now()).toISOString(),
        ...(risk.serial === undefined ? {} : { serial: risk.serial }),
        ...(borrowIds.length === 0 ? {} : { borrowIds }),
      };
      this.open.set(key, view);
      changed = true;
      if (existing === undefined) raised.push(view);
    }
    if (!changed) return;
    this.subject.next(Array.from(this.open.values()));
    for (const view of raised) {
      this.inputs.emit("risk.raised", view.message, {
        ...(view.serial === undefined ? {} : { serial: view.serial }),
        risk: view,
      });
    }
  }

  private factSince(risk: Desired): number | undefined {
    const serial = risk.serial ?? "";
    switch (risk.kind) {
      case "key-counterfeit":
        return this.counterfeit.get(serial);
      case "key-moved":
        return this.movedKeys.get(serial);
      case "license-update-pending":
        return this.pendingUpdates.get(serial);
      case "ledger-rebuilt":
        return this.ledgerRebuiltAt;
      case "clock-jump":
        return this.clockSince;
      case "registry-lost":
      case "registry-corrupt":
        return this.registry?.since;
      case "driver-changed":
        return this.driverChangedAt;
      case "ledger-unwritable":
      case "ledger-lost":
        return this.inputs.ledgerProblem?.()?.since;
      case "driver-removed":
        return Math.min(...this.driverRemoved.values());
      case "host-ip-changed":
        return this.hostChanged.get("ips");
      case "host-hostname-changed":
        return this.hostChanged.get("hostname");
      case "host-machine-id-changed":
        return this.hostChanged.get("machineId");
      case "os-reinstalled":
        return this.hostChanged.get("osInstallId");
      default:
        return undefined;
    }
  }

  private derive(): Desired[] {
    const desired: Desired[] = [];
    for (const [serial] of this.counterfeit) {
      desired.push({
        kind: "key-counterfeit",
        serial,
        rows: [],
        message: `A key presenting serial ${serial} failed the authenticity check (its public key differs from the one pinned at first attach); keybridge refuses to talk to it.`,
        advice: `Unplug that key and plug in the genuine key ${serial}; report the counterfeit to your license vendor.`,
      });
    }

    // The ledger is what makes every borrow returnable: a problem with it is a risk with or without borrows out.
    const ledger = this.inputs.ledgerProblem?.();
    if (ledger !== undefined) {
      desired.push({
        kind: ledger.kind === "unwritable" ? "ledger-unwritable" : "ledger-lost",
        rows: [],
        ...describeLedgerProblem(ledger),
      });
    }

    const rows = this.inputs.outstanding();
    const held = rows.filter((row) => row.state === "active" || row.state === "returning");
    if (held.length === 0) {
      this.forgetEpisode();
      return desired;
    }
    const maintenance = maintenanceRisk(this.inputs.maintenance?.() ?? null, held, this.now());
    if (maintenance !== undefined) desired.push(maintenance);
    const binding = this.inputs.currentBinding();
    const bySerial = groupBySerial(held);
    const allMismatched: BorrowRow[] = [];

    for (const [serial, serialRows] of bySerial) {
      const present = this.inputs.isPresent(serial);
      if (!present) {
        desired.push({
          kind: "key-unplugged",
          serial,
          rows: serialRows,
          message: `Key ${serial} is not attached while ${plural(serialRows.length, "borrow")} on it ${serialRows.length === 1 ? "is" : "are"} outstanding: ${describeBorrows(serialRows)}. They cannot be returned or settled until it is back.`,
          advice: `Plug key ${serial} back into this computer before ${formatTime(firstExpiry(serialRows))}; do not plug it into another computer.`,
        });
      }
      const mismatched = serialRows.filter((row) => row.binding !== binding);
      allMismatched.push(...mismatched);
      if (mismatched.length > 0 && (this.movedKeys.has(serial) || !this.hostExplains())) {
        desired.push({
          kind: "key-moved",
          serial,
          rows: mismatched,
          message: `Key ${serial} holds ${plural(mismatched.length, "borrow")} bound to another host identity: ${describeBorrows(mismatched)}. Returning or settling them here would create borrow dummies.`,
          advice: `Move the key back to the computer it was on, or ${MIGRATE}; on a new computer import the old one's ledger export first (keybridge ledger import FILE).`,
        });
      }
      const keyNow = this.inputs.keyNow(serial);
      const unsettled = serialRows.filter(
        (row) => row.state === "active" && keyNow >= row.expiresAt && (!present || row.binding !== binding),
      );
      if (unsettled.length > 0) {
        const deadline = Math.min(...unsettled.map((row) => row.expiresAt)) + this.inputs.settleWindowMs(serial);
        desired.push({
          kind: "borrow-expiring-unsettled",
          serial,
          rows: unsettled,
          message: `${plural(unsettled.length, "expired borrow")} on key ${serial} cannot be settled (${present ? "bound to another host identity" : "the key is not attached"}): ${describeBorrows(unsettled)}. The key turns each into a borrow dummy if it is not settled by ${formatTime(deadline)}.`,
          advice: present
            ? `${capitalizeFirst(MIGRATE)} now; keybridge settles the borrows right after.`
            : `Plug key ${serial} back into this computer before ${formatTime(deadline)}.`,
        });
      }
      const pendingSince = this.pendingUpdates.get(serial);
      if (pendingSince !== undefined) {
        desired.push({
          kind: "license-update-pending",
          serial,
          rows: serialRows,
          message: `A license update of key ${serial} is waiting: ${plural(serialRows.length, "borrow")} ${serialRows.length === 1 ? "is" : "are"} out (${describeBorrows(serialRows)}) and an update now would turn them into borrow dummies.`,
          advice: `Return these borrows before updating, or wait until ${formatTime(lastExpiry(serialRows))}, then run keybridge license-update again.`,
        });
      }
    }
    for (const serial of this.movedKeys.keys()) {
      if (!(bySerial.get(serial) ?? []).some((row) => row.binding !== binding)) this.movedKeys.delete(serial);
    }
    for (const serial of this.pendingUpdates.keys()) if (!bySerial.has(serial)) this.pendingUpdates.delete(serial);

    if (allMismatched.length === 0) {
      this.hostChanged.clear();
    } else {
      for (const [component] of this.hostChanged) {
        const kind = HOST_KIND[component];
        // A reinstall also changes the machine id: one risk says it.
        if (kind === undefined || (component === "machineId" && this.hostChanged.has("osInstallId"))) continue;
        desired.push({
          kind,
          rows: allMismatched,
          message: `${hostChangeText(kind)} while ${plural(allMismatched.length, "borrow")} bound to the old identity ${allMismatched.length === 1 ? "is" : "are"} outstanding: ${describeBorrows(allMismatched)}. Returning or settling them now would create borrow dummies.`,
          advice: `${hostUndoText(kind)}, or ${MIGRATE}.`,
        });
      }
    }

    const tagless = held.filter(isTagUnknown);
    if (tagless.length > 0) {
      desired.push({
        kind: "tag-unknown",
        rows: tagless,
        message: `The tags of ${plural(tagless.length, "borrow")} were lost with the ledger and the registry: ${describeBorrows(tagless)}. Returning, settling or migrating them would create borrow dummies, so keybridge refuses; the key turns each into a dummy by itself after its expiry.`,
        advice:
          "Import the old ledger's export (keybridge ledger import FILE) or restore a backup of the data directory; otherwise let these borrows run out and expect the product to be blocked for one borrow period.",
      });
    }

    const lastOut = formatTime(lastExpiry(held));
    if (this.driverRemoved.size > 0) {
      const names = Array.from(this.driverRemoved.keys()).join(", ");
      desired.push({
        kind: "driver-removed",
        rows: held,
        message: `Driver software was removed (${names}) while ${plural(held.length, "borrow")} ${held.length === 1 ? "is" : "are"} outstanding: ${describeBorrows(held)}. Uninstalling the driver loses its registry entries.`,
        advice: `Reinstall the driver, then run keybridge reconcile --repair to restore the registry from the ledger; export the ledger now (keybridge ledger export FILE).`,
      });
    }
    if (this.driverChangedAt !== undefined) {
      desired.push({
        kind: "driver-changed",
        rows: held,
        message: `Driver or runtime software changed version while ${plural(held.length, "borrow")} ${held.length === 1 ? "is" : "are"} outstanding: ${describeBorrows(held)}. A new major version may not read today's registry.`,
        advice: "Run keybridge reconcile and apply its repairs with keybridge reconcile --repair.",
      });
    }
    if (this.registry !== undefined) {
      const lost = this.registry.health === "lost";
      desired.push({
        kind: lost ? "registry-lost" : "registry-corrupt",
        rows: held,
        message: `The OS registry ${lost ? "lost" : "holds damaged"} borrow entries${this.registry.detail ? ` (${this.registry.detail})` : ""} while ${plural(held.length, "borrow")} ${held.length === 1 ? "is" : "are"} outstanding: ${describeBorrows(held)}.`,
        advice:
          "Run keybridge reconcile --repair to restore the entries from the ledger (the mirror also does so at its next drift check); do not return borrows through any other software meanwhile.",
      });
    }
    const exportedAt = this.ledgerRebuiltAt === undefined ? null : this.inputs.ledgerExportedAt();
    if (this.ledgerRebuiltAt !== undefined && (exportedAt === null || exportedAt < this.ledgerRebuiltAt)) {
      desired.push({
        kind: "ledger-rebuilt",
        rows: held,
        message: `The ledger was rebuilt from the key and the registry while ${plural(held.length, "borrow")} ${held.length === 1 ? "is" : "are"} outstanding: ${describeBorrows(held)}. Borrows whose tag was lost cannot be returned without a dummy.`,
        advice: `Run keybridge reconcile to see which borrows are affected, then export the ledger (keybridge ledger export FILE); return these borrows before ${lastOut} where possible.`,
      });
    }
    if (this.clockSince !== undefined) {
      const direction = this.clockNetMs > 0 ? "forward" : "backward";
      desired.push({
        kind: "clock-jump",
        rows: held,
        message: `The system clock jumped ${direction} by ${Math.round(Math.abs(this.clockNetMs) / 60_000)} minutes while ${plural(held.length, "borrow")} ${held.length === 1 ? "is" : "are"} outstanding: ${describeBorrows(held)}. Expiry is counted in the key's time, but logs and the registry now disagree with it.`,
        advice: `Set the clock right (NTP); do not change the time to return a borrow early. Return these borrows before ${lastOut}.`,
      });
    }
    return desired;
  }

  /** A host change is only a risk while borrows are out; with none out, the next episode starts fresh. */
  private forgetEpisode(): void {
    this.hostChanged.clear();
    this.movedKeys.clear();
    this.pendingUpdates.clear();
    this.driverChangedAt = undefined;
    this.clockNetMs = 0;
    this.clockSince = undefined;
    this.ledgerRebuiltAt = undefined;
  }

  private hostExplains(): boolean {
    return this.hostChanged.size > 0;
  }
}
