import type { Command } from "commander";
import type { LedgerExportView } from "../../bridge/api.js";
import { type CommandKit, example, readText, writePrivateFile } from "../command-kit.js";
import * as render from "../render.js";

/** `ledger export` and `ledger import`: what another host needs to take over. */
export function registerLedger(program: Command, kit: CommandKit): void {
  const { client, show } = kit;
  const ledger = program.command("ledger").description("move what another host needs to take over");
  ledger
    .command("export")
    .description("write the checksummed ledger export to FILE (0600)")
    .argument("<file>", "where to write it")
    .addHelpText("after", example("keybridge ledger export /media/usb/keybridge.export"))
    .action(async (file: string, _options: unknown, command: Command) => {
      const { text, headers } = await client(command).text("GET", "/v1/ledger/export");
      writePrivateFile(file, text);
      const view: LedgerExportView = {
        file,
        borrows: Number(headers.get("x-keybridge-borrows") ?? 0),
        keys: Number(headers.get("x-keybridge-keys") ?? 0),
      };
      show(command, view, (v) => render.ledgerText("Exported", v, file));
    });
  ledger
    .command("import")
    .description("import a ledger export; --force merges into a ledger that holds borrows")
    .argument("<file>", "the export file")
    .option("--force", "merge even if this ledger already holds borrows")
    .addHelpText("after", example("keybridge ledger import /media/usb/keybridge.export"))
    .action(async (file: string, options: { force?: boolean }, command: Command) => {
      const text = readText(file);
      const { text: answer } = await client(command).text(
        "POST",
        `/v1/ledger/import${options.force ? "?force=true" : ""}`,
        text,
      );
      const view = JSON.parse(answer) as LedgerExportView;
      show(command, view, (v) => render.ledgerText("Imported", v, file));
    });
}
