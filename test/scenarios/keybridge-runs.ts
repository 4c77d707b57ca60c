import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filter, firstValueFrom, Subject, timeout } from "rxjs";
import type { BridgeEvent, RiskKind } from "../../src/bridge/api.js";
import { type OpenedBridge, openBridge } from "../../src/bridge/open.js";
import type { ClockJumpEvent } from "../../src/host/index.js";
import type { PreflightAction } from "../../src/reconcile/index.js";
import { CLIENTS, DAY_MS, DummyTracker, type RunResult, SERIAL, TIMELINE, UPGRADED_LICENSES } from "./kit.js";
import type { ScenarioId } from "./scenario-ids.js";

export interface KeybridgeRunResult extends RunResult {
  /** A risk, a refusal or an unsafe preflight came before the first dummy (or there was none). */
  warnedBeforeHarm: boolean;
  risks: RiskKind[];
}

/** One keybridge run: the admin drives the bridge as a real one would, following its advice. */
class Run {
  bridge!: OpenedBridge;
  readonly notes: string[] = [];
  readonly risks: RiskKind[] = [];
  readonly tracker = new DummyTracker();
  readonly ids = new Map<string, number>();
  readonly dirs: string[] = [];
  readonly clockJumps = new Subject<ClockJumpEvent>();
  firstWarningAt: number | undefined;
  firstDummyAt: number | undefined;
  private step = 0;
  dataDir = "";

  async open(dataDir = this.tempDir()): Promise<OpenedBridge> {
    this.dataDir = dataDir;
    this.bridge = await openBridge(
      {
        dataDir,
        mode: "virtual",
        hostPollMs: 50,
        clockCheckMs: 3_600_000,
        driftCheckMs: 3_600_000,
        mirrorLagMs: 20,
      },
      {
        hotplugDebounceMs: 5,
        expiryCheckMs: 3_600_000,
        clockJumps$: this.clockJumps,
      },
    );
    this.bridge.events$.subscribe((event) => this.onEvent(event));
    for (const risk of this.bridge.risks()) this.noteRisk(risk.kind);
    return this.bridge;
  }

  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "keybridge-scenario-"));
    this.dirs.push(dir);
    return dir;
  }

  warned(what: string): void {
    this.notes.push(what);
    this.firstWarningAt ??= this.step;
  }

  async preflight(action: PreflightAction): Promise<boolean> {
    const verdict = await this.bridge.preflight(action);
    if (!verdict.safe) this.warned(`preflight ${action}: unsafe`);
    else this.notes.push(`preflight ${action}: safe`);
    return verdict.safe;
  }

  async waitForRisk(kind: RiskKind): Promise<void> {
    if (this.bridge.risks().some((risk) => risk.kind === kind)) return;
    await firstValueFrom(
      this.bridge.events$.pipe(
        filter((event) => event.type === "risk.raised" && event.risk?.kind === kind),
        timeout(5000),
      ),
    );
  }

  async exportLedger(): Promise<string> {
    const file = join(this.tempDir(), "ledger-export.json");
    await this.bridge.exportLedger(file);
    this.notes.push("ledger exported");
    return file;
  }

  /** The key (its virtual state file) goes to a new data directory: another computer or a fresh OS. */
  async moveKeyToNewHost(exportFile: string): Promise<void> {
    const from = join(this.dataDir, "virtual", `${SERIAL}.key.json`);
    await this.bridge.close();
    const next = this.tempDir();
    mkdirSync(join(next, "virtual"), { recursive: true });
    copyFileSync(from, join(next, "virtual", `${SERIAL}.key.json`));
    await this.open(next);
    await this.bridge.importLedger(exportFile);
    this.notes.push("ledger imported on the new host");
  }

  async migrate(): Promise<void> {
    const view = await this.bridge.migrate();
    this.notes.push(`migrate: ${view.rebound} rebound`);
  }

  observe(): void {
    this.step++;
    this.tracker.observe(this.bridge.testSeams.world?.bus.keys() ?? []);
    if (this.firstDummyAt === undefined && this.tracker.result([], 0).dummies > 0) this.firstDummyAt = this.step;
  }

  private onEvent(event: BridgeEvent): void {
    if (event.type === "risk.raised" && event.risk !== undefined) this.noteRisk(event.risk.kind);
    if (event.type === "registry.repaired") this.notes.push("registry restored from the ledger");
    if (event.type === "reconcile.repaired") this.notes.push("reconcile --repair applied");
  }

  private noteRisk(kind: RiskKind): void {
    if (this.risks.includes(kind)) return;
    this.risks.push(kind);
    this.warned(`risk ${kind} raised`);
  }
}

type Action = (run: Run, day: number) => Promise<void>;

const ACTIONS: Record<ScenarioId, Action> = {
  "upgrade-licenses": async (run, day) => {
    if (day === 1) {
      await run.preflight("upgrade-licenses");
      await run.bridge.licenseUpdate(SERIAL, UPGRADED_LICENSES).catch((error: { code?: string }) => {
        run.warned(`license-update refused (${error.code})`);
      });
    }
    // After the last borrow was settled (day 30), the update is safe.
    if (day === 32 && (await run.preflight("upgrade-licenses"))) {
      await run.bridge.licenseUpdate(SERIAL, UPGRADED_LICENSES);
      run.notes.push("licenses upgraded once every borrow was back");
    }
  },
  "upgrade-licenses-forced": async (run, day) => {
    if (day !== 1) return;
    await run.bridge.licenseUpdate(SERIAL, UPGRADED_LICENSES).catch((error: { code?: string }) => {
      run.warned(`license-update refused (${error.code})`);
    });
    const view = await run.bridge.licenseUpdate(SERIAL, UPGRADED_LICENSES, { force: true });
    run.notes.push(`admin forced it: ${view.dummiesCreated.length} dummies, written to the audit trail`);
  },
  "install-major-version": async (run, day) => {
    if (day !== 1) return;
    await run.preflight("install-major-version");
    await run.exportLedger();
    await run.preflight("install-major-version");
    const host = run.bridge.testSeams.world?.host;
    await host?.installDriver("9.00");
    await run.bridge.testSeams.refreshHost();
    await run.bridge.virtual?.wipeRegistry();
    await run.waitForRisk("registry-lost");
    await run.bridge.repair();
  },
  "unplug-key": async (run, day) => {
    if (day !== 29) return;
    run.bridge.testSeams.world?.bus.unplug(SERIAL);
    await run.waitForRisk("key-unplugged");
    await run.bridge.virtual?.plug(SERIAL);
    run.notes.push("admin plugged the key back as advised");
  },
  "move-key": async (run, day) => {
    if (day !== 1) return;
    await run.preflight("move-key");
    const file = await run.exportLedger();
    await run.moveKeyToNewHost(file);
    await run.migrate();
  },
  "uninstall-driver": async (run, day) => {
    if (day !== 1) return;
    await run.preflight("uninstall-driver");
    await run.exportLedger();
    await run.preflight("uninstall-driver");
    const host = run.bridge.testSeams.world?.host;
    await host?.uninstallDriver();
    await run.bridge.testSeams.refreshHost();
    await run.bridge.virtual?.wipeRegistry();
    await run.waitForRisk("registry-lost");
    await host?.installDriver("8.20-virtual");
    await run.bridge.testSeams.refreshHost();
    await run.bridge.repair();
  },
  "reinstall-os": async (run, day) => {
    if (day !== 1) return;
    await run.preflight("reinstall-os");
    const file = await run.exportLedger();
    await run.preflight("reinstall-os");
    // Same computer, fresh OS: a new data directory and a new machine id; the key stays plugged in.
    await run.moveKeyToNewHost(file);
    await run.waitForRisk("key-moved");
    await run.migrate();
  },
  "change-ip": async (run, day) => {
    if (day !== 1) return;
    await run.preflight("change-ip");
    await run.bridge.virtual?.setHost({ ip: "192.0.2.99" });
    await run.waitForRisk("host-ip-changed");
    await run.migrate();
  },
  "restart-service": async (run, day) => {
    if (day !== 1) return;
    await run.preflight("restart-service");
    // What SIGKILL at crash point borrow.after-key leaves: the key holds a borrow the ledger never recorded.
    const { keys, ledger, binding } = run.bridge.testSeams;
    const session = keys.session(SERIAL);
    if (session === undefined) throw new Error("key not attached");
    const opId = randomBytes(16);
    await keys.call(session, (client) =>
      client.borrow({
        opId,
        product: 1003,
        days: 30,
        binding: Buffer.from(binding(), "hex"),
        tag: ledger.deriveTag(opId),
        client: "ws-4",
      }),
    );
    const dir = run.dataDir;
    await run.bridge.close();
    await run.open(dir);
    const rolledBack = (await run.bridge.audit({ kind: "rollback", limit: 5 })).length;
    run.notes.push(`restart: recovery rolled back ${rolledBack} unacknowledged borrow`);
  },
  "change-hostname": async (run, day) => {
    if (day !== 1) return;
    await run.preflight("change-hostname");
    await run.bridge.virtual?.setHost({ hostname: "license-srv-renamed" });
    await run.waitForRisk("host-hostname-changed");
    await run.migrate();
  },
  "clock-jump": async (run, day) => {
    if (day !== 2) return;
    // Virtual mode cannot step the wall clock: the clock monitor's event is injected.
    run.clockJumps.next({
      type: "clock.jump",
      at: new Date(),
      direction: "backward",
      jumpMs: 3 * DAY_MS,
      acrossRestart: false,
    });
    await run.waitForRisk("clock-jump");
    run.notes.push("expiry is counted in the key's clock, so settling stays on time");
  },
};

/** Runs one scenario on keybridge in virtual mode (fresh temp data dir) and counts the dummies. */
export async function runKeybridge(id: ScenarioId): Promise<KeybridgeRunResult> {
  const run = new Run();
  try {
    await run.open();
    for (const c of CLIENTS) {
      const borrow = await run.bridge.borrow({ product: c.product, client: c.client });
      run.ids.set(c.client, borrow.id);
    }
    for (let day = 1; day <= TIMELINE.lastDay; day++) {
      await run.bridge.virtual?.advanceClock(DAY_MS);
      await ACTIONS[id](run, day);
      if (day === TIMELINE.returnDay) {
        for (const c of CLIENTS) {
          if (!c.returns) continue;
          const id = run.ids.get(c.client) ?? -1;
          await run.bridge.returnBorrow(id).catch((error: { code?: string }) => {
            run.notes.push(`return of ${c.client}'s borrow refused (${error.code})`);
          });
        }
      }
      run.observe();
    }
    const keys = run.bridge.testSeams.world?.bus.keys() ?? [];
    const result = run.tracker.result(run.notes, run.tracker.activeOn(keys));
    const warnedBeforeHarm =
      run.firstDummyAt === undefined || (run.firstWarningAt !== undefined && run.firstWarningAt <= run.firstDummyAt);
    return { ...result, warnedBeforeHarm, risks: run.risks };
  } finally {
    await run.bridge?.close();
    for (const dir of run.dirs) rmSync(dir, { recursive: true, force: true });
  }
}
