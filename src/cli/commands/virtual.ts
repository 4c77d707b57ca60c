import type { Command } from "commander";
import type { VirtualKeyView } from "../../bridge/api.js";
import { formatDuration } from "../../config/duration.js";
import { type CommandKit, duration, example } from "../command-kit.js";
import { localTime } from "../format.js";
import * as render from "../render.js";
import { safe } from "../safe-text.js";

/** `16 d ahead of this machine's clock`. */
function clockAhead(keyTime: string): string {
  const ahead = Date.parse(keyTime) - Date.now();
  if (Math.abs(ahead) < 60_000) return "the same as this machine's clock";
  return `${formatDuration(ahead)} ${ahead > 0 ? "ahead of" : "behind"} this machine's clock`;
}

/** `virtual ...`: the virtual keys of a daemon in virtual mode. */
export function registerVirtual(program: Command, kit: CommandKit): void {
  const { client, show } = kit;
  const virtual = program.command("virtual").description("control virtual keys (daemon in virtual mode only)");
  virtual
    .command("keys")
    .description("list virtual keys")
    .addHelpText("after", example("keybridge virtual keys"))
    .action(async (_options: unknown, command: Command) => {
      show(command, await client(command).json<VirtualKeyView[]>("GET", "/v1/virtual/keys"), render.virtualKeysText);
    });
  virtual
    .command("create")
    .description("create a virtual key with the demo licenses")
    .option("--serial <serial>", "its serial (default: the next free one)")
    .addHelpText("after", example("keybridge virtual create --serial KB-0002"))
    .action(async (options: { serial?: string }, command: Command) => {
      const key = await client(command).json<VirtualKeyView>(
        "POST",
        "/v1/virtual/keys",
        options.serial ? { serial: options.serial } : {},
      );
      show(command, key, (k) => `Created virtual key ${safe(k.serial)}.\n`);
    });
  for (const verb of ["plug", "unplug"] as const) {
    virtual
      .command(verb)
      .description(`${verb} a virtual key`)
      .argument("<serial>", "the key's serial")
      .addHelpText("after", example(`keybridge virtual ${verb} KB-0001`))
      .action(async (serial: string, _options: unknown, command: Command) => {
        const key = await client(command).json<VirtualKeyView>(
          "POST",
          `/v1/virtual/keys/${encodeURIComponent(serial)}/${verb}`,
        );
        show(command, key, (k) => `Virtual key ${safe(k.serial)} ${k.plugged ? "plugged in" : "unplugged"}.\n`);
      });
  }
  virtual
    .command("clock")
    .description("move every virtual key's clock forward, then settle the borrows that expired")
    .requiredOption("--advance <duration>", "how far: 31d, 721h, 2h, 15m, 90s", duration)
    .addHelpText(
      "after",
      "\nA 30-day borrow and the key's 24 h settle window:\n" +
        "  --advance 721h  (30 d 1 h) the borrow has just expired; keybridge settles it, the seat is free.\n" +
        "  --advance 31d   past the settle window too, as if keybridge had been down for a month: the key\n" +
        "                  has made the borrow a Borrow Dummy by itself; keybridge marks it dummy, publishes\n" +
        "                  borrow.dummy and shows when it clears (status, borrows --state dummy).\n" +
        example("keybridge virtual clock --advance 721h", "keybridge virtual clock --advance 31d"),
    )
    .action(async (options: { advance: number }, command: Command) => {
      const result = await client(command).json<{ keyTime: string }>("POST", "/v1/virtual/clock", {
        advance: options.advance,
      });
      show(command, result, (r) => `Virtual key time is now ${localTime(r.keyTime)} (${clockAhead(r.keyTime)}).\n`);
    });
  virtual
    .command("host")
    .description("change the simulated host identity")
    .option("--ip <address>", "the primary IP address")
    .option("--hostname <name>", "the hostname")
    .option("--machine-id <id>", "the machine id")
    .addHelpText("after", example("keybridge virtual host --ip 192.0.2.20"))
    .action(async (options: { ip?: string; hostname?: string; machineId?: string }, command: Command) => {
      const result = await client(command).json<{ ips: string[]; hostname: string; machineId: string }>(
        "POST",
        "/v1/virtual/host",
        {
          ...(options.ip ? { ip: options.ip } : {}),
          ...(options.hostname ? { hostname: options.hostname } : {}),
          ...(options.machineId ? { machineId: options.machineId } : {}),
        },
      );
      show(
        command,
        result,
        (h) =>
          `Host identity: ips ${safe(h.ips.join(", "))}, hostname ${safe(h.hostname)}, machine id ${safe(h.machineId)}.\n`,
      );
    });
  virtual
    .command("wipe-registry")
    .description("wipe the OS registry copy, as a driver uninstall would")
    .addHelpText("after", example("keybridge virtual wipe-registry"))
    .action(async (_options: unknown, command: Command) => {
      show(
        command,
        await client(command).json<{ wiped: boolean }>("POST", "/v1/virtual/registry/wipe"),
        () => "Registry wiped.\n",
      );
    });
}
