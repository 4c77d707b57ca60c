import { type Command, Option } from "commander";
import type { KeyView, ListedBorrowView, StatusView } from "../../bridge/api.js";
import { type CommandKit, example } from "../command-kit.js";
import { keyClocks, SERVER_CLOCK } from "../format.js";
import * as render from "../render.js";
import { listedBorrowsText } from "../render-codemeter.js";
import { daemonWebhooks } from "../webhooks.js";

/** What the daemon shows: `status`, `keys`, `borrows`. */
export function registerViews(program: Command, kit: CommandKit): void {
  const { client, show, globals } = kit;
  program
    .command("status")
    .description("keys present, borrows, dummies, open risks — the one-screen summary")
    .addHelpText("after", example("keybridge status", "keybridge status --json"))
    .action(async (_options: unknown, command: Command) => {
      const api = client(command);
      const status = await api.json<StatusView>("GET", "/v1/status");
      // The readable summary also says whether notifications get through; --json stays the StatusView.
      const webhooks = globals(command).json === true ? undefined : await daemonWebhooks(api);
      show(command, status, (view) => render.statusText(view, webhooks));
    });

  program
    .command("keys")
    .description("keys with their licenses (seats, borrowable, borrowed, dummies)")
    .addHelpText("after", example("keybridge keys"))
    .action(async (_options: unknown, command: Command) => {
      show(command, await client(command).json<KeyView[]>("GET", "/v1/keys"), render.keysText);
    });

  program
    .command("borrows")
    .description("borrow records, dummies included; with the CodeMeter server's borrows (read-only) when it is watched")
    .option("--serial <serial>", "only borrows of this key (or CodeMeter stick)")
    .addOption(new Option("--state <state>", "only borrows in this state").choices(["active", "expired", "dummy"]))
    .addOption(
      new Option("--source <source>", "only keybridge's own borrows, or only CodeMeter's").choices([
        "keybridge",
        "codemeter",
      ]),
    )
    .addHelpText(
      "after",
      "\nEach borrow in --json has a source: keybridge (its own, with a numeric id) or codemeter (read-only,\n" +
        "with a CodeMeter borrow id; a missing one is listed under --state dummy).\n" +
        example("keybridge borrows", "keybridge borrows --state dummy --json", "keybridge borrows --source codemeter"),
    )
    .action(async (options: { serial?: string; state?: string; source?: string }, command: Command) => {
      const query = new URLSearchParams();
      if (options.serial) query.set("serial", options.serial);
      if (options.state) query.set("state", options.state);
      if (options.source) query.set("source", options.source);
      const suffix = query.size > 0 ? `?${query}` : "";
      const api = client(command);
      const borrows = await api.json<ListedBorrowView[]>("GET", `/v1/borrows${suffix}`);
      // Relative times in each key's clock, the one its borrows' times are in.
      const clocks =
        globals(command).json === true || !borrows.some((borrow) => borrow.source !== "codemeter")
          ? SERVER_CLOCK
          : keyClocks(await api.json<KeyView[]>("GET", "/v1/keys"));
      show(command, borrows, (list) => listedBorrowsText(list, render.borrowsText, clocks));
    });
}
