import { Counter, Gauge, type Registry } from "prom-client";
import type { CodeMeterView } from "../bridge/api.js";

interface CodeMeterSeries {
  readonly borrows: Gauge;
  readonly sticks: Gauge;
  readonly service: Gauge;
  readonly tracking: Gauge;
  readonly logLines: Counter;
}

/**
 * `keybridge_codemeter_*`: the read-only CodeMeter mode on /metrics. `keybridge_codemeter_enabled`
 * is always there (0 on a host without CodeMeter); the other series appear only once the mode runs,
 * so a server without CodeMeter shows nothing else of it.
 */
export class CodeMeterMetrics {
  private readonly enabled: Gauge;
  private series: CodeMeterSeries | undefined;

  constructor(private readonly registry: Registry) {
    this.enabled = new Gauge({
      name: "keybridge_codemeter_enabled",
      help: "1 while the read-only CodeMeter mode watches a CodeMeter server on this host, else 0",
      registers: [registry],
    });
  }

  update(view: CodeMeterView): void {
    this.enabled.set(view.enabled ? 1 : 0);
    if (!view.enabled) return;
    this.series ??= this.register();
    const series = this.series;
    series.borrows.set({ state: "active" }, view.borrows.filter((b) => b.state === "active").length);
    series.borrows.set({ state: "missing" }, view.borrows.filter((b) => b.state === "missing").length);
    series.sticks.set(view.sticks.filter((stick) => stick.present).length);
    series.service.set(view.runtime.serviceRunning === true ? 1 : 0);
    series.tracking.set(view.tracking.enabled === true ? 1 : 0);
    // The view's counts are totals since keybridge started: the counter is set to them.
    series.logLines.reset();
    series.logLines.inc({ outcome: "parsed" }, view.logLines.parsed);
    series.logLines.inc({ outcome: "skipped" }, view.logLines.skipped);
  }

  private register(): CodeMeterSeries {
    const registers = [this.registry];
    return {
      borrows: new Gauge({
        name: "keybridge_codemeter_borrows_outstanding",
        help: "CodeMeter borrows out (active), and those missing from a server start's re-listing (a dummy is likely)",
        labelNames: ["state"],
        registers,
      }),
      sticks: new Gauge({
        name: "keybridge_codemeter_sticks_present",
        help: "CmSticks present on this host",
        registers,
      }),
      service: new Gauge({
        name: "keybridge_codemeter_service_running",
        help: "1 while cmu reports the CodeMeter service running (0: stopped or unknown)",
        registers,
      }),
      tracking: new Gauge({
        name: "keybridge_codemeter_tracking_enabled",
        help: "1 while CodeMeter's License Tracking is on (0: off or unknown; keybridge then cannot see borrows)",
        registers,
      }),
      logLines: new Counter({
        name: "keybridge_codemeter_log_lines_total",
        help: "License Tracking log lines read since keybridge started: parsed, or skipped (malformed or oversized)",
        labelNames: ["outcome"],
        registers,
      }),
    };
  }
}
