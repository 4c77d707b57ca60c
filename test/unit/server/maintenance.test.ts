import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CliHarness, startCli } from "../cli/cli-harness.js";

const DAY = 86_400_000;
let h: CliHarness;
beforeEach(async () => {
  h = await startCli();
});
afterEach(async () => {
  await h.close();
});

describe("/v1/maintenance", () => {
  it("plan, show, borrow under the plan, cancel", async () => {
    expect(await (await h.api("/v1/maintenance")).json()).toMatchObject({ plan: null, phase: "none", clear: true });
    const at = new Date(Date.now() + 3.5 * DAY).toISOString();
    const planned = await h.api("/v1/maintenance", { method: "POST", json: { at, action: "upgrade-licenses" } });
    expect(planned.status).toBe(200);
    expect(await planned.json()).toMatchObject({
      plan: { at, action: "upgrade-licenses", until: null },
      phase: "before",
    });

    const long = await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "a", days: 10 } });
    expect(long.status).toBe(409);
    expect(await long.json()).toMatchObject({ code: "MAINTENANCE_PLANNED" });
    const short = await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "b" } });
    expect(short.status).toBe(201);
    const made = (await short.json()) as { expiresAt: string };
    expect(Date.parse(made.expiresAt)).toBeLessThanOrEqual(Date.parse(at));
    expect((await (await h.api("/v1/status")).json()) as { maintenance: unknown }).toMatchObject({
      maintenance: { at },
    });

    const cancelled = await h.api("/v1/maintenance", { method: "DELETE" });
    expect(await cancelled.json()).toMatchObject({ plan: null });
    expect(
      (await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "c", days: 10 } })).status,
    ).toBe(201);
  });

  it("400 naming the field for a past start, an end before it, a wrong action or an unknown field", async () => {
    const at = new Date(Date.now() + DAY).toISOString();
    const cases: [unknown, string][] = [
      [{ at: new Date(Date.now() - DAY).toISOString() }, "at"],
      [{ at, until: new Date(Date.now() + 0.5 * DAY).toISOString() }, "until"],
      [{ at, action: "format-disk" }, "action"],
      [{ at, when: "now" }, "when"],
      [{}, "at"],
    ];
    for (const [json, field] of cases) {
      const response = await h.api("/v1/maintenance", { method: "POST", json });
      expect(response.status, JSON.stringify(json)).toBe(400);
      expect(await response.json()).toMatchObject({ field });
    }
  });
});

describe("keybridge maintenance", () => {
  it("plans 10 days out, lists the borrows in the way, refuses a long borrow, cancels", async () => {
    expect((await h.cli("borrow", "1001", "--client", "ws-anna")).code).toBe(0);
    const planned = await h.cli("maintenance", "plan", "10d", "--action", "reinstall-os", "--note", "new disk");
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toMatch(/^Maintenance planned: from .* until cancelled — reinstall-os \(new disk\)/);
    expect(planned.stdout).toContain("Borrows ending after the start (ask for them back):");
    expect(planned.stdout).toMatch(/ws-anna/);

    const refused = await h.cli("borrow", "1001", "--client", "ws-bob", "--days", "20");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("[MAINTENANCE_PLANNED]");

    const shown = await h.cli("maintenance", "--json");
    expect(shown.json).toMatchObject({ phase: "before", plan: { action: "reinstall-os", note: "new disk" } });
    const cancelled = await h.cli("maintenance", "cancel");
    expect(cancelled.stdout).toMatch(
      /^Cancelled the maintenance for reinstall-os \(new disk\) planned from \d{4}-\d\d-\d\d \d\d:\d\d until cancelled: borrowing is normal again\.$/m,
    );
    const again = await h.cli("maintenance", "cancel");
    expect(again.stdout).toBe("No maintenance was planned: nothing to cancel.\n");
  });

  it("refuses a bad time or action before asking the daemon (usage, exit 2)", async () => {
    const badTime = await h.cli("maintenance", "plan", "someday");
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toMatch(/WHEN must be a duration from now such as 7d or an ISO time/);
    const badAction = await h.cli("maintenance", "plan", "7d", "--action", "format-disk");
    expect(badAction.code).toBe(2);
    expect(badAction.stderr).toMatch(/--action must be one of upgrade-licenses/);
    // In the user's words: the argument and option names, not the API's fields.
    const past = await h.cli("maintenance", "plan", "2020-01-01T00:00:00Z");
    expect(past.code).toBe(2);
    expect(past.stderr).toContain("WHEN must be in the future; 2020-01-01T00:00:00Z has passed");
    expect(past.stderr).not.toMatch(/\bat must\b/);
    const pastEnd = await h.cli("maintenance", "plan", "7d", "--until", "2020-01-01T00:00:00Z");
    expect(pastEnd.code).toBe(2);
    expect(pastEnd.stderr).toContain("--until must be in the future");
    const longNote = await h.cli("maintenance", "plan", "7d", "--note", "x".repeat(201));
    expect(longNote.code).toBe(2);
    expect(longNote.stderr).toContain("--note is 201 characters; at most 200 are allowed");
  });
});
