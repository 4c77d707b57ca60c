import type {
  AuditEntryView,
  BorrowView,
  DummyView,
  FindingView,
  KeyView,
  LedgerExportView,
  LicenseChangeView,
  LicenseInput,
  LicenseUpdatePreviewView,
  LicenseUpdateView,
  MaintenanceView,
  MigrationView,
  PreflightView,
  RepairResultView,
  ReturnResultView,
  RiskView,
  StatusView,
  VirtualKeyView,
} from "../bridge/api.js";
import { formatDuration } from "../config/duration.js";
import type { LoadedConfig } from "../config/load.js";
import { describeWebhook } from "../config/webhooks.js";
import type { WebhookTestResult, WebhookView } from "../server/notify/index.js";
import { type Clocks, keyClocks, localTime, prose, SERVER_CLOCK, table, when } from "./format.js";
import { codeMeterMaintenanceText, codeMeterStatusLine } from "./render-codemeter.js";
import type { RunningDaemon } from "./running-daemon.js";
import { safe } from "./safe-text.js";
import { webhookInTrouble } from "./webhooks.js";

export function keysText(keys: KeyView[]): string {
  if (keys.length === 0) return "No keys.\n";
  const rows: (string | number)[][] = [];
  for (const key of keys) {
    const present = key.present ? "yes" : "NO";
    if (key.licenses.length === 0) rows.push([key.serial, present, "-", "", "", "", "", ""]);
    for (const l of key.licenses) {
      rows.push([
        key.serial,
        present,
        l.name ? `${l.product} ${l.name}` : l.product,
        l.seats,
        l.borrowable,
        l.borrowed,
        l.dummies,
        l.borrowDays,
      ]);
    }
  }
  return table(["SERIAL", "PRESENT", "PRODUCT", "SEATS", "BORROWABLE", "BORROWED", "DUMMIES", "DAYS"], rows);
}

/** `clocks`: each key's clock, which its borrows' times are in (see Clocks). */
export function borrowsText(borrows: BorrowView[], clocks: Clocks = SERVER_CLOCK): string {
  if (borrows.length === 0) return "No borrows.\n";
  return table(
    ["ID", "SERIAL", "PRODUCT", "CLIENT", "STATE", "ISSUED", "EXPIRES / CLEARS"],
    borrows.map((b) => [
      b.id,
      b.serial,
      b.product,
      b.client,
      b.state,
      localTime(b.issuedAt),
      b.state === "dummy"
        ? `clears ${when(b.dummyUntil, clocks.now(b.serial))}`
        : `${b.state === "expired" ? "expired " : ""}${when(b.expiresAt, clocks.now(b.serial))}`,
    ]),
  );
}

export function auditText(entries: AuditEntryView[]): string {
  if (entries.length === 0) return "No audit entries.\n";
  return table(
    ["ID", "AT", "KIND", "SERIAL", "BORROW", "WHAT HAPPENED"],
    entries.map((e) => [e.id, localTime(e.at), e.kind, e.serial ?? "-", e.borrowId ?? "-", prose(e.message)]),
  );
}

/** A plan's times follow the server's clock; `clocks` gives the borrows' keys' clocks for their expiry. */
export function maintenanceText(view: MaintenanceView, clocks: Clocks = SERVER_CLOCK): string {
  const plan = view.plan;
  if (plan === null)
    return `${prose(view.summary)}\nPlan one with: keybridge maintenance plan 14d --action reinstall-os\n`;
  const lines = [
    `Maintenance ${view.phase === "before" ? "planned" : view.phase === "during" ? "under way" : "window over"}: ` +
      `from ${when(plan.at)}${plan.until === null ? " until cancelled" : ` until ${when(plan.until)}`}` +
      `${plan.action === null ? "" : ` — ${safe(plan.action)}`}${plan.note === null ? "" : ` (${safe(plan.note)})`}`,
    prose(view.summary),
  ];
  let text = `${lines.join("\n")}\n`;
  if (view.borrowsEndingAfter.length > 0) {
    text += `\nBorrows ending after the start (ask for them back):\n${table(
      ["ID", "KEY", "PRODUCT", "CLIENT", "EXPIRES"],
      view.borrowsEndingAfter.map((b) => [
        b.id,
        b.serial,
        b.productName ? `${b.product} ${b.productName}` : b.product,
        b.client,
        when(b.expiresAt, clocks.now(b.serial)),
      ]),
    )}`;
  }
  return text + codeMeterMaintenanceText(view.codemeter);
}

/** What `maintenance cancel` did: the plan it ended, or that there was none. */
export function maintenanceCancelText(view: MaintenanceView): string {
  const ended = view.cancelled;
  if (ended === undefined || ended === null) return "No maintenance was planned: nothing to cancel.\n";
  const until = ended.until === null ? "until cancelled" : `until ${localTime(ended.until)}`;
  const what = `${ended.action === null ? "" : ` for ${safe(ended.action)}`}${ended.note === null ? "" : ` (${safe(ended.note)})`}`;
  return `Cancelled the maintenance${what} planned from ${localTime(ended.at)} ${until}: borrowing is normal again.\n`;
}

const NO_WEBHOOKS =
  "No webhooks are configured. Add one to keybridge.json in the data directory, e.g.\n" +
  '  "webhooks": [{ "url": "https://hooks.example.com/keybridge", "secretFile": "/etc/keybridge/webhook.secret" }]\n' +
  "or set KEYBRIDGE_WEBHOOKS=https://hooks.example.com/keybridge, then restart the daemon.\n";

export function webhooksText(hooks: WebhookView[]): string {
  if (hooks.length === 0) return NO_WEBHOOKS;
  return table(
    ["NAME", "URL", "EVENTS", "HOLD", "DELIVERED", "FAILED", "DROPPED", "WAITING", "SUPPRESSED", "LAST"],
    hooks.map((hook) => [
      hook.name,
      hook.url,
      hook.events.join(","),
      hook.holdMs === 0 ? "-" : formatDuration(hook.holdMs),
      hook.delivered,
      hook.failed,
      hook.dropped,
      hook.pending,
      hook.suppressed,
      hook.last === null ? "-" : `${hook.last.ok ? "ok" : "FAILED"} ${hook.last.result} (${localTime(hook.last.at)})`,
    ]),
  );
}

export function webhookTestText(results: WebhookTestResult[]): string {
  if (results.length === 0) return NO_WEBHOOKS;
  const lines = results.map(
    (result) =>
      `${result.ok ? "ok  " : "FAIL"}  ${safe(result.name)}  ${safe(result.url)}  ${safe(result.result)}  (${result.ms} ms)`,
  );
  const failed = results.filter((result) => !result.ok).length;
  const summary =
    failed === 0
      ? `All ${results.length} webhook(s) took the test notification.`
      : `${failed} of ${results.length} webhook(s) did not take it: check the URL, the receiver and its logs.`;
  return `${lines.join("\n")}\n${summary}\n`;
}

export function borrowText(b: BorrowView): string {
  // Just made: its issuedAt is the key's clock now, the clock its expiry is in.
  return `Borrowed product ${b.product} for ${safe(b.client)}: borrow ${b.id} on key ${safe(b.serial)}, expires ${when(b.expiresAt, Date.parse(b.issuedAt))}.\n`;
}

export function returnText(r: ReturnResultView): string {
  const b = r.borrow;
  if (r.outcome === "dummy") {
    return (
      `Borrow ${b.id} was NOT returned: key ${safe(b.serial)} holds it as a borrow dummy until ${when(b.dummyUntil ?? null)}; ` +
      `product ${b.product} cannot be borrowed from this key until then.\n`
    );
  }
  return `Returned borrow ${b.id} (product ${b.product}, client ${safe(b.client)}).\n`;
}

export function dummiesText(dummies: DummyView[], clocks: Clocks = SERVER_CLOCK): string {
  if (dummies.length === 0) return "No Borrow Dummies.\n";
  return table(
    ["SERIAL", "PRODUCT", "BORROW", "CLEARS", "BLOCKS"],
    dummies.map((d) => [
      d.serial,
      d.product,
      d.borrowId,
      when(d.dummyUntil, clocks.now(d.serial)),
      d.blocksProduct ? "borrowing of the product" : "-",
    ]),
  );
}

export function risksText(risks: RiskView[]): string {
  if (risks.length === 0) return "No open risks.\n";
  return risks
    .map(
      (r) =>
        `[${safe(r.severity.toUpperCase())}] ${safe(r.kind)}${r.source === "codemeter" ? " (CodeMeter)" : ""} since ${when(r.since)}\n  ${prose(r.message)}\n  What to do: ${prose(r.advice)}\n`,
    )
    .join("");
}

function noKeyHint(status: StatusView): string {
  if (status.keys.some((key) => key.present && key.kind === "keybridge")) return "";
  return status.mode === "virtual"
    ? "No virtual key is plugged in: keybridge virtual plug SERIAL (or keybridge virtual create).\n"
    : "No keybridge key is attached: the daemon keeps running and serves as soon as one is plugged in.\n";
}

function registryHealth(registry: StatusView["registry"]): string {
  if (!registry.healthy) return "NOT HEALTHY";
  return registry.lastDriftCheck === null ? "being checked (start-up drift check running)" : "healthy";
}

/** Borrows the registry refused: each one, so the user can find it (the ledger still has it). */
function registryRefusedLines(registry: StatusView["registry"]): string {
  const refused = registry.refused ?? [];
  if (refused.length === 0) return "";
  const lines = refused.map((entry) => `  borrow ${entry.id} on key ${safe(entry.serial)}: ${safe(entry.reason)}\n`);
  return `Registry: ${refused.length} borrow(s) NOT copied (the ledger keeps them; every other entry is copied):\n${lines.join("")}`;
}

function maintenanceLine(plan: StatusView["maintenance"]): string {
  if (plan === null) return "";
  const until = plan.until === null ? "until cancelled" : `until ${when(plan.until)}`;
  return `Maintenance: from ${when(plan.at)} ${until}${plan.action === null ? "" : ` (${safe(plan.action)})`}: new borrows end before it — keybridge maintenance\n`;
}

function notificationsLine(hooks: readonly WebhookView[] | undefined): string {
  if (hooks === undefined) return "";
  if (hooks.length === 0) return "Notifications: no webhooks — risks reach only those who watch (docs/notify.md)\n";
  const failing = hooks.filter(webhookInTrouble);
  const state =
    failing.length === 0
      ? "no failed deliveries"
      : `FAILING: ${failing.map((hook) => safe(hook.name)).join(", ")} (keybridge notify test ${safe(failing[0]?.name ?? "")})`;
  return `Notifications: ${hooks.length} webhook(s), ${state}\n`;
}

export function statusText(status: StatusView, webhooks?: readonly WebhookView[]): string {
  const present = status.keys.filter((k) => k.present).length;
  const clocks = keyClocks(status.keys);
  return [
    `keybridge (${safe(status.mode)} mode): ${present} of ${status.keys.length} key(s) present, ${status.borrows.length} borrow(s) out, ` +
      `${status.dummies.length} dummy(ies), ${status.risks.length} open risk(s)\n`,
    `Ledger: ${status.ledger.healthy ? "healthy" : "NOT HEALTHY"}${status.ledger.rebuilt ? " (rebuilt)" : ""} — ${safe(status.ledger.path)}; ` +
      `last export: ${status.ledger.lastExportAt === null ? "never (keybridge ledger export FILE)" : when(status.ledger.lastExportAt)}\n`,
    status.ledger.problem === undefined ? "" : `  ${safe(status.ledger.problem)}\n`,
    `Registry: ${safe(status.registry.kind)} ${registryHealth(status.registry)} — ${safe(status.registry.location)}\n`,
    registryRefusedLines(status.registry),
    maintenanceLine(status.maintenance ?? null),
    codeMeterStatusLine(status.codemeter),
    notificationsLine(webhooks),
    noKeyHint(status),
    "\nKeys\n",
    keysText(status.keys),
    "\nBorrows\n",
    borrowsText(status.borrows, clocks),
    "\nDummies\n",
    dummiesText(status.dummies, clocks),
    "\nRisks\n",
    risksText(status.risks),
  ].join("");
}

export function findingsText(findings: FindingView[]): string {
  if (findings.length === 0) return "No findings: key, registry and ledger agree.\n";
  return table(
    ["SEVERITY", "KIND", "BORROW", "MESSAGE", "REPAIR"],
    findings.map((f) => [
      f.severity,
      f.kind,
      f.borrowId ?? "-",
      prose(f.message),
      `${f.repair.action}${f.repair.safe ? "" : " (manual)"}`,
    ]),
  );
}

export function repairText(result: RepairResultView): string {
  const applied =
    result.applied.length === 0
      ? "No repairs were needed.\n"
      : table(
          ["OUTCOME", "KIND", "ACTION", "BORROW", "MESSAGE"],
          result.applied.map((a) => [a.outcome, a.kind, a.action, a.borrowId ?? "-", prose(a.message)]),
        );
  return `${applied}\nFindings after repair\n${findingsText(result.after.findings)}`;
}

export function preflightText(view: PreflightView): string {
  const lines = [
    view.safe
      ? `SAFE: ${safe(view.action)} can be done now.`
      : `UNSAFE: do not ${safe(view.action.replaceAll("-", " "))} now.`,
  ];
  for (const reason of view.reasons) lines.push(`  - ${prose(reason)}`);
  if (view.advice.length > 0) lines.push("What to do:");
  for (const advice of view.advice) lines.push(`  - ${prose(advice)}`);
  if (!view.safe && view.borrows.length > 0) {
    const codemeter = view.borrows.filter((b) => b.source === "codemeter").length;
    const kinds = codemeter === 0 ? "" : ` (${view.borrows.length - codemeter} keybridge, ${codemeter} CodeMeter)`;
    lines.push(
      `${view.borrows.length} borrow(s) in the way${kinds}; ` +
        (view.lastEndsAt === null ? "one never expires." : `the last ends ${when(view.lastEndsAt)}.`),
    );
  }
  return `${lines.join("\n")}\n`;
}

export function migrationText(view: MigrationView): string {
  if (view.items.length === 0) return "No outstanding borrows to migrate.\n";
  return (
    table(
      ["BORROW", "SERIAL", "PRODUCT", "CLIENT", "OUTCOME", "MESSAGE"],
      view.items.map((i) => [i.borrowId, i.serial, i.product, i.client, i.outcome, prose(i.message)]),
    ) + `${view.rebound} rebound, ${view.failed} failed.\n`
  );
}

export function licenseUpdateText(view: LicenseUpdateView): string {
  const counter = view.updateCounter === undefined ? "" : `, update counter ${view.updateCounter}`;
  const head = `Key ${safe(view.serial)} now has license set version ${view.licenseSetVersion}${counter}${view.forced ? " (forced)" : ""}.\n`;
  if (view.dummiesCreated.length === 0) return head;
  return `${head}These borrows became Borrow Dummies:\n${borrowsText(view.dummiesCreated)}`;
}

export function licenseText(license: LicenseInput): string {
  return `product ${license.product}: ${license.seats} seats, ${license.borrowable} borrowable for up to ${license.borrowDays} days`;
}

export function licenseChangeText(change: LicenseChangeView): string {
  if (change.change === "added" && change.after !== undefined) return `+ ${licenseText(change.after)}`;
  if (change.change === "changed" && change.after !== undefined && change.before !== undefined) {
    const was = change.before;
    return `~ ${licenseText(change.after)} (was ${was.seats} seats, ${was.borrowable} borrowable, ${was.borrowDays} days)`;
  }
  return `- product ${change.product} (removed)`;
}

/** What a license update would do: what it is, its signature and counter, the license diff, the dummies K6 would make, the verdict. */
export function licenseUpdatePreviewText(view: LicenseUpdatePreviewView): string {
  const lines: string[] = [];
  const keyCounter = view.keyCounter === null ? "" : ` (the key is at ${view.keyCounter})`;
  if (view.signed) {
    lines.push(
      `Update for key ${safe(view.serial)}: a vendor-signed update file, counter ${view.counter}${keyCounter}.`,
    );
    const vendor = view.vendorPublicKey === null ? "" : ` ${view.vendorPublicKey}`;
    lines.push(
      view.signatureValid === null
        ? "  signature: not checked (the key has no vendor key)"
        : view.signatureValid
          ? `  signature: valid, by the key's vendor${vendor}`
          : `  signature: NOT by the key's vendor${vendor}`,
    );
  } else {
    const signing =
      view.counter === null ? "" : `, signed by this daemon's demo vendor with counter ${view.counter}${keyCounter}`;
    lines.push(`Update for key ${safe(view.serial)}: a bare license set${signing}.`);
  }
  lines.push(
    `  the key has license set version ${view.licenseSetVersion}; the update holds ${view.licenses.length} license(s)`,
  );
  if (view.changes.length === 0) lines.push("  the license set is unchanged");
  for (const change of view.changes) lines.push(`  ${licenseChangeText(change)}`);
  let text = `${lines.join("\n")}\n`;
  const strangers = view.unrecordedBorrowIds.length;
  if (view.dummies.length + strangers > 0) {
    text +=
      `Borrows that would become Borrow Dummies (rule K6)${view.forced ? ", as --force allows" : ""}:\n` +
      (view.dummies.length > 0 ? borrowsText(view.dummies) : "") +
      (strangers > 0
        ? `  and ${strangers} the key lists that the ledger does not hold: ${view.unrecordedBorrowIds.join(", ")}\n`
        : "");
  } else {
    text += "No borrow would become a Borrow Dummy.\n";
  }
  text +=
    view.refusal === null
      ? "Verdict: it would be applied.\n"
      : `Verdict: it would be REFUSED: ${safe(view.refusal.message)} [${view.refusal.code}]\n`;
  return text;
}

export function ledgerText(verb: "Exported" | "Imported", view: LedgerExportView, file: string): string {
  return `${verb} ${view.borrows} borrow(s) of ${view.keys} key(s) ${verb === "Exported" ? "to" : "from"} ${safe(file)}.\n`;
}

export function virtualKeysText(keys: VirtualKeyView[]): string {
  if (keys.length === 0) return "No virtual keys.\n";
  return table(
    ["SERIAL", "PLUGGED", "KEY TIME", "LICENSES"],
    keys.map((k) => [
      k.serial,
      k.plugged ? "yes" : "no",
      localTime(k.keyTime),
      k.licenses.map((l) => `${l.product}:${l.seats}/${l.borrowable}/${l.borrowDays}d`).join(" "),
    ]),
  );
}

/**
 * The configuration as `serve` would start with it, then the running daemon (or why none answers):
 * `serve --virtual` or `--listen` change a running daemon without changing this configuration, so
 * the two are shown apart and where they differ it is said.
 */
/** What an unset CodeMeter path means on this platform (the CodeMeter module's defaults), for `config`. */
export interface CodeMeterDefaultsText {
  readonly serverIni: string;
  readonly logDir: string;
  readonly cmu: string;
}

export function configText(
  loaded: LoadedConfig,
  daemon: RunningDaemon | string,
  codeMeterDefaults?: CodeMeterDefaultsText,
): string {
  const rows = Object.entries(loaded.config).flatMap(([field, value]) => {
    const source = loaded.sources[field as keyof typeof loaded.sources] ?? "default";
    if (field === "codemeter") {
      const codemeter = loaded.config.codemeter;
      const shown = (member: keyof CodeMeterDefaultsText) =>
        codemeter[member] ?? (codeMeterDefaults === undefined ? "the platform's default" : codeMeterDefaults[member]);
      return [
        ["codemeter.mode", codemeter.mode, loaded.sources["codemeter.mode"]],
        ["codemeter.serverIni", shown("serverIni"), loaded.sources["codemeter.serverIni"]],
        ["codemeter.logDir", shown("logDir"), loaded.sources["codemeter.logDir"]],
        ["codemeter.cmu", shown("cmu"), loaded.sources["codemeter.cmu"]],
      ];
    }
    if (field === "webhooks") {
      const hooks = loaded.config.webhooks;
      if (hooks.length === 0) return [[field, "none", source]];
      return hooks.map((hook, index) => [index === 0 ? field : "", describeWebhook(hook), index === 0 ? source : ""]);
    }
    if (Array.isArray(value)) return [[field, value.length === 0 ? "none" : value.join(","), source]];
    return [[field, String(value), source]];
  });
  const head =
    "Configuration (defaults, the file, the environment): what `keybridge serve` starts with, unless its flags say otherwise\n";
  const file = loaded.file === undefined ? "Configuration file: none\n" : `Configuration file: ${safe(loaded.file)}\n`;
  return `${head}${file}${table(["FIELD", "VALUE", "SOURCE"], rows)}\n${runningDaemonText(loaded, daemon)}`;
}

function runningDaemonText(loaded: LoadedConfig, daemon: RunningDaemon | string): string {
  if (typeof daemon === "string") return `Running daemon: none (${safe(daemon)})\n`;
  const who = [
    daemon.pid === null ? undefined : `pid ${daemon.pid}`,
    daemon.started === null ? undefined : `since ${localTime(daemon.started)}`,
  ]
    .filter((part) => part !== undefined)
    .join(", ");
  const lines = [`Running daemon: ${safe(daemon.url)}${who === "" ? "" : ` (${who})`}, ${safe(daemon.mode)} mode`];
  if (daemon.mode !== loaded.config.mode) {
    lines.push(
      `  mode: the daemon runs ${safe(daemon.mode)}, the configuration above says ${loaded.config.mode} ` +
        `(it was started with ${daemon.mode === "virtual" ? "--virtual" : "another configuration"}); the daemon's applies until it restarts`,
    );
  }
  const configured = `://${loaded.config.listen}`;
  if (!daemon.url.endsWith(configured)) {
    lines.push(
      `  listen: the daemon serves ${safe(daemon.url)}, the configuration above says ${safe(loaded.config.listen)} ` +
        "(it was started with --listen or another configuration)",
    );
  }
  return `${lines.join("\n")}\n`;
}

export function eventLine(type: string, data: string): string {
  try {
    const event = JSON.parse(data) as { at?: string; message?: string; risk?: { source?: string } };
    // CodeMeter's risks share the risk events with keybridge's: say whose borrows they are about.
    const source = event.risk?.source === "codemeter" ? " (CodeMeter)" : "";
    return `${safe(event.at === undefined ? "" : localTime(event.at))} ${safe(type)}${source}: ${prose(event.message ?? "")}\n`;
  } catch {
    // Not every event carries JSON (a future event type may not); show it as it came, made safe.
    return `${safe(type)}: ${safe(data)}\n`;
  }
}
