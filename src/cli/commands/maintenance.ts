import { type Command, InvalidArgumentError } from "commander";
import type { KeyView, MaintenanceView } from "../../bridge/api.js";
import { isPreflightAction, PREFLIGHT_ACTIONS } from "../../reconcile/index.js";
import type { ApiClient } from "../client.js";
import { type CommandKit, duration, example } from "../command-kit.js";
import { type Clocks, keyClocks, SERVER_CLOCK } from "../format.js";
import * as render from "../render.js";

/** `7d` means "seven days from now"; anything else must be an ISO time, in the future. */
function laterTime(option: string) {
  return (value: string): string => {
    if (/^\d+(\.\d+)?\s*[a-z]+$/i.test(value.trim())) return new Date(Date.now() + duration(value)).toISOString();
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) {
      throw new InvalidArgumentError(`${option} must be a duration from now such as 7d or an ISO time, got '${value}'`);
    }
    if (ms <= Date.now()) {
      throw new InvalidArgumentError(`${option} must be in the future; ${value} has passed`);
    }
    return new Date(ms).toISOString();
  };
}

const MAX_NOTE = 200;

function note(value: string): string {
  if (value.trim().length > MAX_NOTE) {
    throw new InvalidArgumentError(`--note is ${value.trim().length} characters; at most ${MAX_NOTE} are allowed`);
  }
  return value;
}

/** The clocks of the keys whose borrows a plan lists (their expiry is in their key's clock). */
async function clocksFor(api: ApiClient, view: MaintenanceView, json: boolean): Promise<Clocks> {
  if (json || view.borrowsEndingAfter.length === 0) return SERVER_CLOCK;
  return keyClocks(await api.json<KeyView[]>("GET", "/v1/keys"));
}

function action(value: string): string {
  if (!isPreflightAction(value)) {
    throw new InvalidArgumentError(`--action must be one of ${PREFLIGHT_ACTIONS.join(", ")}, got '${value}'`);
  }
  return value;
}

/** `maintenance`: plan a window for a dangerous action so that every borrow is back by then. */
export function registerMaintenance(program: Command, kit: CommandKit): void {
  const { client, show, globals } = kit;
  const maintenance = program
    .command("maintenance")
    .summary("plan a maintenance window: borrows end before it, none are made during it")
    .description(
      "the planned maintenance window (an OS reinstall, a license upgrade, a move of the key) and the borrows " +
        "that still end after its start; `plan` makes every new borrow end before it, `cancel` ends it",
    )
    .addHelpText(
      "after",
      example(
        "keybridge maintenance",
        "keybridge maintenance plan 14d --action reinstall-os --note 'new disk'",
        "keybridge maintenance plan 2026-12-20T18:00:00Z --until 2026-12-21T08:00:00Z",
        "keybridge maintenance cancel",
      ),
    )
    .action(async (_options: unknown, command: Command) => {
      const api = client(command);
      const view = await api.json<MaintenanceView>("GET", "/v1/maintenance");
      const clocks = await clocksFor(api, view, globals(command).json === true);
      show(command, view, (shown) => render.maintenanceText(shown, clocks));
    });

  maintenance
    .command("plan")
    .argument("<when>", "when the window starts: a duration from now (14d) or an ISO time", laterTime("WHEN"))
    .description(
      "plan the window to start at WHEN (a duration from now such as 14d, or an ISO time): from now on every " +
        "new borrow ends before it (a default period is shortened, a longer one refused), and nothing is borrowed " +
        "from then until --until or `maintenance cancel`. Replaces an earlier plan",
    )
    .option(
      "--until <when>",
      "when borrowing opens again by itself (a duration from now or an ISO time)",
      laterTime("--until"),
    )
    .option("--action <action>", `what the window is for: ${PREFLIGHT_ACTIONS.join(", ")}`, action)
    .option("--note <text>", "a note shown with the plan (200 characters at most)", note)
    .addHelpText("after", example("keybridge maintenance plan 14d --action upgrade-licenses"))
    .action(async (when: string, options: { until?: string; action?: string; note?: string }, command: Command) => {
      const body = {
        at: when,
        ...(options.until === undefined ? {} : { until: options.until }),
        ...(options.action === undefined ? {} : { action: options.action }),
        ...(options.note === undefined ? {} : { note: options.note }),
      };
      const api = client(command);
      const view = await api.json<MaintenanceView>("POST", "/v1/maintenance", body);
      const clocks = await clocksFor(api, view, globals(command).json === true);
      show(command, view, (shown) => render.maintenanceText(shown, clocks));
    });

  maintenance
    .command("cancel")
    .description("end the plan (the maintenance is done, or called off): borrowing is normal again")
    .addHelpText("after", example("keybridge maintenance cancel"))
    .action(async (_options: unknown, command: Command) => {
      show(
        command,
        await client(command).json<MaintenanceView>("DELETE", "/v1/maintenance"),
        render.maintenanceCancelText,
      );
    });
}
