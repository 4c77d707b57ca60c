import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Subscription } from "rxjs";
import type { Bridge } from "../bridge/api.js";
import { isCodedError } from "../errors.js";
import { CodeMeterMetrics } from "./codemeter-metrics.js";
import type { Notifier } from "./notify/index.js";
import { mappingFor } from "./problem.js";

/**
 * Prometheus metrics on a registry of our own (never the global one, so an embedding service's
 * metrics are untouched). Gauges are refreshed from `bridge.status()` on each scrape. Exchange
 * latency comes from the bridge's `keyExchanges$` (one sample per request/answer with a key, timed
 * from the transport's queue); operation latency (key, ledger and everything between) is timed
 * around the API's calls that reach the key.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly keysPresent: Gauge;
  private readonly licenseSeats: Gauge;
  private readonly licenseBorrowable: Gauge;
  private readonly licenseBorrowed: Gauge;
  private readonly licenseDummies: Gauge;
  private readonly borrowsOutstanding: Gauge;
  private readonly dummies: Gauge;
  private readonly dummyClear: Gauge;
  private readonly risksOpen: Gauge;
  private readonly lastExport: Gauge;
  private readonly exchangeSeconds: Histogram;
  private readonly exchangeWaitSeconds: Histogram;
  private readonly operationSeconds: Histogram;
  private readonly operations: Counter;
  private readonly events: Counter;
  private readonly subscription: Subscription;
  private readonly exchangeSubscription: Subscription;
  private readonly codemeter: CodeMeterMetrics;

  constructor(
    private readonly bridge: Bridge,
    sseClients: () => number,
    notifier?: Pick<Notifier, "webhooks">,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "keybridge_" });
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers });
    this.keysPresent = gauge("keybridge_keys_present", "Keys plugged in and answering");
    const licenseLabels = ["serial", "product"];
    this.licenseSeats = gauge("keybridge_license_seats", "Network seats of a license", licenseLabels);
    this.licenseBorrowable = gauge("keybridge_license_borrowable", "Seats that may be borrowed at once", licenseLabels);
    this.licenseBorrowed = gauge("keybridge_license_borrowed", "Active borrows of a license", licenseLabels);
    this.licenseDummies = gauge("keybridge_license_dummies", "Borrow Dummies blocking a license", licenseLabels);
    this.borrowsOutstanding = gauge("keybridge_borrows_outstanding", "Borrows out (active and expired)", ["state"]);
    this.dummies = gauge("keybridge_dummies", "Borrow Dummies on all keys");
    this.dummyClear = gauge("keybridge_dummy_clear_timestamp_seconds", "When a Borrow Dummy clears (Unix time)", [
      "serial",
      "product",
      "borrow",
    ]);
    this.risksOpen = gauge("keybridge_risks_open", "Open risks by kind, severity and source (keybridge or codemeter)", [
      "kind",
      "severity",
      "source",
    ]);
    this.codemeter = new CodeMeterMetrics(this.registry);
    this.lastExport = gauge(
      "keybridge_ledger_last_export_timestamp_seconds",
      "When the ledger was last exported (Unix time; 0: never)",
    );
    new Gauge({
      name: "keybridge_sse_clients",
      help: "Clients following /v1/events",
      registers,
      collect() {
        this.set(sseClients());
      },
    });
    if (notifier !== undefined) {
      new Counter({
        name: "keybridge_notifications_total",
        help: "Webhook notifications by outcome: delivered, failed (given up), dropped (queue full or shutdown), retried",
        labelNames: ["webhook", "outcome"],
        registers,
        collect() {
          this.reset();
          for (const hook of notifier.webhooks()) {
            for (const outcome of ["delivered", "failed", "dropped", "retried"] as const) {
              this.inc({ webhook: hook.name, outcome }, hook[outcome]);
            }
          }
        },
      });
      new Gauge({
        name: "keybridge_notifications_pending",
        help: "Webhook notifications waiting or being sent",
        labelNames: ["webhook"],
        registers,
        collect() {
          for (const hook of notifier.webhooks()) this.set({ webhook: hook.name }, hook.pending);
        },
      });
    }
    const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.exchangeSeconds = new Histogram({
      name: "keybridge_key_exchange_seconds",
      help: "One request/answer with a key, from leaving the queue to the whole answer read (BUSY retries included)",
      labelNames: ["command", "outcome"],
      buckets,
      registers,
    });
    this.exchangeWaitSeconds = new Histogram({
      name: "keybridge_key_exchange_wait_seconds",
      help: "Time a request to a key waited behind other requests to the same key",
      buckets: [0, ...buckets],
      registers,
    });
    this.operationSeconds = new Histogram({
      name: "keybridge_operation_seconds",
      help: "API operations that reach the key, end to end in the bridge (key exchanges, signature checks, ledger commit)",
      labelNames: ["op"],
      buckets,
      registers,
    });
    this.operations = new Counter({
      name: "keybridge_operations_total",
      help: "API operations by outcome: ok, refused (the caller can act) or failed",
      labelNames: ["op", "outcome"],
      registers,
    });
    this.events = new Counter({
      name: "keybridge_events_total",
      help: "Bridge events by type",
      labelNames: ["type"],
      registers,
    });
    this.subscription = bridge.events$.subscribe({ next: (event) => this.events.inc({ type: event.type }) });
    this.exchangeSubscription = bridge.keyExchanges$.subscribe({
      next: (exchange) => {
        this.exchangeSeconds.observe({ command: exchange.command, outcome: exchange.outcome }, exchange.seconds);
        this.exchangeWaitSeconds.observe(exchange.waitedSeconds);
      },
    });
  }

  /** Counts and times one operation; `keyOp` marks those that reach the key. */
  async observe<T>(op: string, keyOp: boolean, run: () => Promise<T>): Promise<T> {
    const stop = keyOp ? this.operationSeconds.startTimer({ op }) : undefined;
    try {
      const result = await run();
      this.operations.inc({ op, outcome: "ok" });
      return result;
    } catch (error) {
      const status = isCodedError(error) ? mappingFor(error.code).status : 500;
      this.operations.inc({ op, outcome: status < 500 ? "refused" : "failed" });
      throw error;
    } finally {
      // A refusal is an answer from the key too, so it is timed like a success.
      stop?.();
    }
  }

  async render(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.subscription.unsubscribe();
    this.exchangeSubscription.unsubscribe();
    this.registry.clear();
  }

  private async refresh(): Promise<void> {
    const status = await this.bridge.status();
    for (const g of [this.licenseSeats, this.licenseBorrowable, this.licenseBorrowed, this.licenseDummies]) g.reset();
    this.keysPresent.set(status.keys.filter((key) => key.present).length);
    for (const key of status.keys) {
      for (const license of key.licenses) {
        const labels = { serial: key.serial, product: String(license.product) };
        this.licenseSeats.set(labels, license.seats);
        this.licenseBorrowable.set(labels, license.borrowable);
        this.licenseBorrowed.set(labels, license.borrowed);
        this.licenseDummies.set(labels, license.dummies);
      }
    }
    this.borrowsOutstanding.reset();
    this.borrowsOutstanding.set({ state: "active" }, 0);
    this.borrowsOutstanding.set({ state: "expired" }, 0);
    for (const borrow of status.borrows) this.borrowsOutstanding.inc({ state: borrow.state });
    this.dummies.set(status.dummies.length);
    this.dummyClear.reset();
    for (const dummy of status.dummies) {
      if (dummy.dummyUntil === null) continue;
      this.dummyClear.set(
        { serial: dummy.serial, product: String(dummy.product), borrow: String(dummy.borrowId) },
        Date.parse(dummy.dummyUntil) / 1000,
      );
    }
    const exportedAt = status.ledger.lastExportAt;
    this.lastExport.set(exportedAt === null ? 0 : Date.parse(exportedAt) / 1000);
    this.risksOpen.reset();
    for (const risk of status.risks) {
      this.risksOpen.inc({ kind: risk.kind, severity: risk.severity, source: risk.source });
    }
    this.codemeter.update(await this.bridge.codemeter());
  }
}
