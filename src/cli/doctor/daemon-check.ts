import type { StatusView } from "../../bridge/api.js";
import { isCodedError } from "../../errors.js";
import type { WebhookView } from "../../server/notify/index.js";
import { ApiClient, type Endpoint } from "../client.js";
import { ApiError } from "../errors.js";
import { daemonWebhooks, webhookInTrouble } from "../webhooks.js";
import { combine } from "./findings.js";
import { type CheckOutcome, type DoctorCheck, fail, ok, warn } from "./types.js";

export interface DaemonCheckInputs {
  endpoint: Endpoint;
  /** Where daemon.json was looked for, and whether it was there. */
  daemonFile: { path: string; found: boolean };
  /** Liveness, no token: `GET /v1/health`. */
  fetch?: typeof fetch;
  /** `GET /v1/status` with the token; default through the CLI's API client (token, TLS trust). */
  status?: () => Promise<StatusView>;
  /** `GET /v1/notify` with the token; undefined when the daemon predates notifications. */
  webhooks?: () => Promise<WebhookView[] | undefined>;
  now?: () => number;
}

/** As the KeybridgeLedgerExportStale alert: borrows out and no export for this long. */
export const EXPORT_STALE_MS = 2 * 86_400_000;
const EXPORT_FIX =
  "keybridge ledger export FILE and keep the file off this machine; every day: sudo systemctl enable --now keybridge-export.timer";

const START_FIX = "sudo systemctl start keybridge (or keybridge serve)";

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** Borrows out with no recent export: a lost disk would leave nothing to import and migrate. */
export function exportFinding(status: StatusView, now: number): CheckOutcome | undefined {
  const exportedAt = status.ledger.lastExportAt;
  if (status.borrows.length === 0) return exportedAt === null ? undefined : ok(`ledger last exported ${exportedAt}`);
  if (exportedAt === null) {
    return warn(`${plural(status.borrows.length, "borrow")} out and the ledger was never exported`, EXPORT_FIX);
  }
  const age = now - Date.parse(exportedAt);
  return age > EXPORT_STALE_MS
    ? warn(`the ledger was last exported ${exportedAt}, ${Math.floor(age / 86_400_000)} days ago`, EXPORT_FIX)
    : ok(`ledger last exported ${exportedAt}`);
}

/** Webhooks whose last delivery failed, or that gave up on or dropped one. */
export function webhookFindings(hooks: readonly WebhookView[]): CheckOutcome[] {
  if (hooks.length === 0) return [ok("no webhooks (risks reach only those who watch; see docs/notify.md)")];
  const troubled = hooks.filter(webhookInTrouble);
  if (troubled.length === 0) return [ok(`${plural(hooks.length, "webhook")}, no failed deliveries`)];
  return troubled.map((hook) =>
    warn(
      `webhook ${hook.name} (${hook.url}): ${hook.failed} failed, ${hook.dropped} dropped` +
        (hook.last === null ? "" : `, last ${hook.last.ok ? "ok" : `failed: ${hook.last.result}`}`),
      `keybridge notify test ${hook.name}`,
    ),
  );
}

/** What the status says about the daemon's health, one finding per part. */
export function statusFindings(status: StatusView, now = Date.now()): CheckOutcome[] {
  const present = status.keys.filter((key) => key.present).length;
  const findings: CheckOutcome[] = [
    ok(
      `${status.mode} mode, ${present} of ${plural(status.keys.length, "key")} present, ${plural(status.borrows.length, "borrow")} out`,
    ),
  ];
  findings.push(
    status.ledger.healthy
      ? ok("ledger healthy")
      : fail(`ledger ${status.ledger.path} is unhealthy`, "see keybridge status and the log (journalctl -u keybridge)"),
  );
  findings.push(
    status.registry.healthy || status.registry.lastDriftCheck === null
      ? ok(`registry ${status.registry.healthy ? "healthy" : "not checked yet"}`)
      : warn(
          `registry ${status.registry.location} differs from the ledger`,
          "keybridge reconcile, then keybridge reconcile --repair",
        ),
  );
  const risks = status.risks.length;
  findings.push(
    risks === 0
      ? ok("no open risks")
      : warn(
          `${plural(risks, "open risk")}: ${status.risks.map((risk) => risk.kind).join(", ")}`,
          "see keybridge status",
        ),
  );
  const exported = exportFinding(status, now);
  if (exported !== undefined) findings.push(exported);
  return findings;
}

/** A TLS failure means something answers: the status call, which trusts the daemon's own certificate, decides. */
function isCertificateFailure(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === "string" && /CERT|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(cause.code);
}

export async function checkDaemon(inputs: DaemonCheckInputs, signal: AbortSignal): Promise<CheckOutcome> {
  const send = inputs.fetch ?? fetch;
  const { url } = inputs.endpoint;
  const where = inputs.daemonFile.found ? `${url} (from ${inputs.daemonFile.path})` : url;
  try {
    const health = await send(`${url}/v1/health`, { signal });
    await health.body?.cancel();
    if (!health.ok) {
      return fail(
        `${url}/v1/health answered ${health.status}: is something else listening there?`,
        "check --url, daemon.json and the listen address (keybridge config)",
      );
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (!isCertificateFailure(error)) {
      const stale = inputs.daemonFile.found ? `; ${inputs.daemonFile.path} is left from an earlier run` : "";
      const reason = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      return warn(`the daemon is not running: nothing answers at ${where}${stale} (${reason})`, START_FIX);
    }
  }

  let status: StatusView;
  try {
    status = await (inputs.status ?? (() => new ApiClient(inputs.endpoint).json<StatusView>("GET", "/v1/status")))();
  } catch (error) {
    const code = isCodedError(error) ? error.code : "";
    const message = (error as Error).message;
    if (code === "TOKEN_MISSING") {
      return warn(
        `the daemon answers at ${where}, but ${message}`,
        "run as the daemon's user (sudo keybridge doctor) or export KEYBRIDGE_TOKEN",
      );
    }
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      return fail(
        `the daemon at ${url} refuses the API token (${error.status})`,
        "use this daemon's data directory (--data-dir) or the token it created (KEYBRIDGE_TOKEN)",
      );
    }
    return fail(
      `${url}/v1/status failed: ${message}${code === "" ? "" : ` [${code}]`}`,
      "see the log: journalctl -u keybridge",
    );
  }
  let hooks: WebhookView[] | undefined;
  try {
    hooks = await (inputs.webhooks ?? (() => daemonWebhooks(new ApiClient(inputs.endpoint))))();
  } catch (error) {
    return combine([
      ok(`answers at ${where}`),
      ...statusFindings(status, inputs.now?.()),
      warn(`${url}/v1/notify failed: ${(error as Error).message}`, "see the log: journalctl -u keybridge"),
    ]);
  }
  return combine([
    ok(`answers at ${where}`),
    ...statusFindings(status, inputs.now?.()),
    ...(hooks === undefined ? [] : webhookFindings(hooks)),
  ]);
}

export function daemonCheck(inputs: DaemonCheckInputs): DoctorCheck {
  return { id: "daemon", title: "daemon", run: (signal) => checkDaemon(inputs, signal) };
}
