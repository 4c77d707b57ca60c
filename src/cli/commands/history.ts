import { type Command, InvalidArgumentError } from "commander";
import type { AuditEntryView, EventHistoryView } from "../../bridge/api.js";
import { type CommandKit, duration, example, integer } from "../command-kit.js";
import * as render from "../render.js";

/** `7d` means "since seven days ago"; anything else must be an ISO time. */
function sinceTime(value: string): string {
  if (/^\d+(\.\d+)?\s*[a-z]+$/i.test(value.trim())) return new Date(Date.now() - duration(value)).toISOString();
  if (Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(`--since must be a duration such as 7d or an ISO time, got '${value}'`);
  }
  return value;
}

/** What happened: the durable `audit` trail and this run's `events`. */
export function registerHistory(program: Command, kit: CommandKit): void {
  const { io, out, globals, client, show } = kit;
  program
    .command("audit")
    .summary("the durable audit trail: refusals, forced updates, repairs, rollbacks")
    .description(
      "the ledger's audit trail, newest first: refused counterfeit keys, forced license updates, rollbacks, " +
        "repairs, rebinds, migrations; kept across restarts",
    )
    .option("--kind <kind>", "only entries of this kind (e.g. counterfeit-key, license-update-forced, repair)")
    .option("--serial <serial>", "only entries about this key")
    .option(
      "--since <when>",
      "only entries this recent (a duration such as 7d or 12h) or from this ISO time on",
      sinceTime,
    )
    .option("--before <id>", "only entries older than this entry id (the next page)", integer("--before", 1))
    .option("--limit <n>", "at most n entries (1–1000)", integer("--limit", 1), 50)
    .addHelpText("after", example("keybridge audit --since 7d", "keybridge audit --kind counterfeit-key --json"))
    .action(
      async (
        options: { kind?: string; serial?: string; since?: string; before?: number; limit: number },
        command: Command,
      ) => {
        const query = new URLSearchParams({ limit: String(options.limit) });
        if (options.kind) query.set("kind", options.kind);
        if (options.serial) query.set("serial", options.serial);
        if (options.since) query.set("since", options.since);
        if (options.before !== undefined) query.set("before", String(options.before));
        show(command, await client(command).json<AuditEntryView[]>("GET", `/v1/audit?${query}`), render.auditText);
      },
    );

  program
    .command("events")
    .summary("what happened since the daemon started; --follow streams new events")
    .description(
      "what happened since the daemon started (the last 1 000 events are kept); with --follow, " +
        "the open risks and then every new event until interrupted",
    )
    .option("--follow", "keep following until interrupted")
    .option("--limit <n>", "without --follow: at most the newest n events (1–1000)", integer("--limit", 1), 100)
    .option("--after <seq>", "without --follow: only events after this sequence number", integer("--after"), 0)
    .addHelpText(
      "after",
      example("keybridge events --limit 20", "keybridge events --follow --json") +
        "\nWith --json, one event object a line; its `seq` numbers the events of this daemon run.\n",
    )
    .action(async (options: { follow?: boolean; limit: number; after: number }, command: Command) => {
      const json = globals(command).json === true;
      const print = (type: string, data: string) => out(json ? `${data}\n` : render.eventLine(type, data));
      const api = client(command);
      if (!options.follow) {
        const limit = Math.min(options.limit, 1000);
        const history = await api.json<EventHistoryView>(
          "GET",
          `/v1/events/history?after=${options.after}&limit=${limit}`,
        );
        for (const event of history.events) print(event.type, JSON.stringify(event));
        if (history.truncated && !json) {
          io.stderr.write(`(older events are not shown: raise --limit, or they are no longer kept)\n`);
        }
        return;
      }
      await api.follow(print, io.interrupted ?? new Promise(() => {}));
    });
}
