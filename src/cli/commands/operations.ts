import { type Command, InvalidArgumentError } from "commander";
import type {
  BorrowView,
  LicenseUpdatePreviewView,
  LicenseUpdateView,
  MigrationView,
  PreflightView,
  ReconcileView,
  RepairResultView,
  ReturnResultView,
} from "../../bridge/api.js";
import { MAX_BORROW_DAYS } from "../../protocol/constants.js";
import { firstUnsafeCharacter, unsafeTextReason } from "../../protocol/text.js";
import { PREFLIGHT_ACTIONS } from "../../reconcile/actions.js";
import { type CommandKit, example, integer } from "../command-kit.js";
import { EXIT } from "../io.js";
import { readLicenseUpdateBody } from "../license-update-file.js";
import * as render from "../render.js";

/** A keybridge borrow id, or a CodeMeter one (passed on, so the daemon refuses it with its reason). */
const borrowId = (value: string): number | string =>
  /^[0-9]{1,10}(-[0-9]{1,10}){3}$/.test(value) ? value : integer("ID")(value);

const preflightAction = (value: string) => {
  if (!(PREFLIGHT_ACTIONS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`unknown action '${value}'; one of: ${PREFLIGHT_ACTIONS.join(", ")}`);
  }
  return value;
};

/** A client name is checked here as the daemon would: a usage error (exit 2) before anything is sent. */
const clientName = (value: string) => {
  const unsafe = firstUnsafeCharacter(value);
  if (unsafe !== undefined) throw new InvalidArgumentError(`--client ${unsafeTextReason(unsafe)}`);
  return value;
};

/** What changes borrows, keys or licenses: borrow, return, reconcile, preflight, migrate, license-update. */
export function registerOperations(program: Command, kit: CommandKit): void {
  const { state, client, show } = kit;
  const wantsJson = (command: Command) => kit.globals(command).json === true;
  program
    .command("borrow")
    .description("borrow a license; prints the borrow")
    .argument("<product>", "product code", integer("PRODUCT"))
    .requiredOption(
      "--client <id>",
      "the client computer or user (at most 64 bytes, no control characters)",
      clientName,
    )
    .option(
      "--days <n>",
      `borrow period in days, 1 to ${MAX_BORROW_DAYS} (default: the license's)`,
      integer("--days", 1, MAX_BORROW_DAYS),
    )
    .option("--serial <serial>", "borrow from this key (default: the first holding the product)")
    .option(
      "--idempotency-key <key>",
      "makes a retry safe: the same key (with the same request) answers the same borrow, never a second seat",
    )
    .addHelpText(
      "after",
      example(
        "keybridge borrow 1001 --client ws-07 --days 14",
        "keybridge borrow 1001 --client ws-07 --idempotency-key ws-07-2026-12-07",
      ),
    )
    .action(
      async (
        product: number,
        options: { client: string; days?: number; serial?: string; idempotencyKey?: string },
        command: Command,
      ) => {
        const body = { product, client: options.client, days: options.days, serial: options.serial };
        const headers: Record<string, string> =
          options.idempotencyKey === undefined ? {} : { "idempotency-key": options.idempotencyKey };
        show(command, await client(command).json<BorrowView>("POST", "/v1/borrows", body, headers), render.borrowText);
      },
    );

  program
    .command("return")
    .description("return a borrow early")
    .argument("<id>", "borrow id", borrowId)
    .option("--serial <serial>", "the key holding the borrow, when two keys use the same id")
    .addHelpText(
      "after",
      "\nExits 1 when the key answers that it holds the borrow as a borrow dummy (outcome `dummy`):\n" +
        "the seat is not free and the product stays blocked until the dummy's clear date.\n" +
        "A CodeMeter borrow (an id like 2-1500002-100532-3) is refused: keybridge watches those read-only.\n" +
        example("keybridge return 42"),
    )
    .action(async (id: number | string, options: { serial?: string }, command: Command) => {
      const query = options.serial === undefined ? "" : `?serial=${encodeURIComponent(options.serial)}`;
      const result = await client(command).json<ReturnResultView>("DELETE", `/v1/borrows/${id}${query}`);
      show(command, result, render.returnText);
      // The seat is not free: a script must not take this for a return.
      if (result.outcome === "dummy") state.exitCode = EXIT.error;
    });

  program
    .command("reconcile")
    .description("findings across key, registry and ledger; dry run unless --repair")
    .option("--repair", "apply the safe repairs")
    .addHelpText("after", example("keybridge reconcile", "keybridge reconcile --repair"))
    .action(async (options: { repair?: boolean }, command: Command) => {
      const api = client(command);
      if (options.repair) {
        const result = await api.json<RepairResultView>("POST", "/v1/reconcile/repair");
        show(command, { ...result.after, applied: result.applied }, () => render.repairText(result));
      } else {
        show(command, await api.json<ReconcileView>("GET", "/v1/reconcile"), (v) => render.findingsText(v.findings));
      }
    });

  program
    .command("preflight")
    .description(`is ACTION safe now? exit 3 when not. Actions: ${PREFLIGHT_ACTIONS.join(", ")}`)
    .argument("<action>", "the action", preflightAction)
    .addHelpText("after", example("keybridge preflight unplug-key", "keybridge preflight change-ip --json"))
    .action(async (action: string, _options: unknown, command: Command) => {
      const view = await client(command).json<PreflightView>("GET", `/v1/preflight/${encodeURIComponent(action)}`);
      show(command, view, render.preflightText);
      if (!view.safe) state.exitCode = EXIT.unsafe;
    });

  program
    .command("migrate")
    .description("rebind outstanding borrows to the current host identity")
    .addHelpText("after", example("keybridge migrate"))
    .action(async (_options: unknown, command: Command) => {
      show(command, await client(command).json<MigrationView>("POST", "/v1/migrate"), render.migrationText);
    });

  program
    .command("license-update")
    .description("apply a vendor-signed license update file to a key; shows what it changes first")
    .argument("<serial>", "the key's serial")
    .argument("<file>", "the update file (.kblu, from `keybridge vendor sign`), or a JSON license set (see below)")
    .option("--force", "update even with borrows out (they become Borrow Dummies)")
    .option("--dry-run", "only show what the update would change and whether it would be refused; send nothing")
    .addHelpText(
      "after",
      "\nFirst shows what the update changes: the licenses added, removed and changed, its counter against the\n" +
        "key's, whether its signature is the key's vendor's, and the borrows it would turn into Borrow Dummies\n" +
        "(rule K6). Then applies it, unless --dry-run. An update the key would refuse (another key's serial, a\n" +
        "counter not above the key's, a signature not by its vendor, a key not provisioned) is refused before\n" +
        "anything is sent; so is one with borrows out, unless --force. A file that is not an update (truncated,\n" +
        "too large) or is signed for another serial is refused before the daemon is asked. Exit 1 when refused\n" +
        "(--dry-run: when it would be).\n" +
        '\nA JSON file {"licenses": [{product, seats, borrowable, borrowDays}]} is a bare license set: taken by a\n' +
        "key whose firmware predates vendor signing, or where the daemon signs for the key's vendor (virtual\n" +
        "mode's demo vendor); any other key refuses it with KEY_UPDATE_NOT_SIGNED.\n" +
        example(
          "keybridge license-update KB-0001 KB-0001-3.kblu --dry-run",
          "keybridge license-update KB-0001 KB-0001-3.kblu",
          "keybridge license-update KB-DEMO-0001 licenses.json --force --json",
        ),
    )
    .action(async (serial: string, file: string, options: { force?: boolean; dryRun?: boolean }, command: Command) => {
      const body = { ...(await readLicenseUpdateBody(file, serial)), force: options.force === true };
      const path = `/v1/keys/${encodeURIComponent(serial)}/license-update`;
      const api = client(command);
      const preview = await api.json<LicenseUpdatePreviewView>("POST", `${path}/preview`, body);
      if (options.dryRun === true) {
        show(command, preview, render.licenseUpdatePreviewText);
        if (preview.refusal !== null) state.exitCode = EXIT.error;
        return;
      }
      if (!wantsJson(command)) kit.out(render.licenseUpdatePreviewText(preview));
      // Sent even when the preview foresees a refusal: the daemon judges again and answers with its own.
      const result = await api.json<LicenseUpdateView>("POST", path, body);
      show(command, { ...result, preview }, render.licenseUpdateText);
    });
}
