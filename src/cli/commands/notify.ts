import type { Command } from "commander";
import type { WebhookTestResult, WebhookView } from "../../server/notify/index.js";
import { type CommandKit, example } from "../command-kit.js";
import { NoWebhooksError } from "../errors.js";
import * as render from "../render.js";

/** `notify`: the webhooks the daemon tells of risks and dummies, and a test delivery to each. */
export function registerNotify(program: Command, kit: CommandKit): void {
  const { state, client, show } = kit;
  const notify = program
    .command("notify")
    .summary("the webhooks told of risks and dummies, and how their deliveries went")
    .description(
      "the webhooks the daemon POSTs events to (configured in keybridge.json or KEYBRIDGE_WEBHOOKS): which events " +
        "each gets, deliveries made, failed, dropped and waiting, and the last answer",
    )
    .addHelpText("after", example("keybridge notify", "keybridge notify test", "keybridge notify test ops-chat --json"))
    .action(async (_options: unknown, command: Command) => {
      const { webhooks } = await client(command).json<{ webhooks: WebhookView[] }>("GET", "/v1/notify");
      show(command, webhooks, render.webhooksText);
    });

  notify
    .command("test [name]")
    .description(
      "send one test notification now to every webhook (or the one named) and show what each answered; " +
        "exit 1 if any did not take it, or if no webhook is configured",
    )
    .addHelpText("after", example("keybridge notify test", "keybridge notify test ops-chat"))
    .action(async (name: string | undefined, _options: unknown, command: Command) => {
      const query = name === undefined ? "" : `?name=${encodeURIComponent(name)}`;
      const { results } = await client(command).json<{ results: WebhookTestResult[] }>(
        "POST",
        `/v1/notify/test${query}`,
      );
      if (results.length === 0) throw new NoWebhooksError();
      show(command, results, render.webhookTestText);
      if (results.some((result) => !result.ok)) state.exitCode = 1;
    });
}
