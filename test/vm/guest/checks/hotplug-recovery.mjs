// Unplug and replug through the production code: `watchDevices` over the real `usb` module
// reports detach and attach with the key's serial; an exchange in flight at the unplug ends in
// KeyDisconnected (KEY_DISCONNECTED) rather than a hang or a timeout; after the replug a new
// Transport and connectKey work (the same pinned public key, rule K9) and a borrow made before the
// unplug is still on the key, and returns normally.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CheckFailed } from "../lib/context.mjs";

/** Longer than the check needs: the in-flight request can only end by the unplug. */
const HOLD_MS = 8_000;

export default {
  name: "hotplug-recovery",
  timeoutMs: 90_000,
  async run(ctx) {
    const { serial } = ctx.config;
    await ctx.ensureKey();
    const { watchDevices } = await ctx.dist("src/transport/index.js");
    const { MemoryPinStore } = await ctx.dist("src/key/index.js");
    const { backend } = await ctx.realKey();
    const events = [];
    const subscription = watchDevices(backend, { debounceMs: 100 }).subscribe({
      next: (event) => events.push({ type: event.type, kind: event.kind, serial: event.serial, at: performance.now() }),
      error: (error) => events.push({ type: "error", error: String(error), at: performance.now() }),
    });
    const detail = {};
    try {
      const ours = (type, after = 0) => events.find((e) => e.type === type && e.serial === serial && e.at >= after);
      await ctx.waitFor("the attach event of the key present at subscription", () => ours("attach"));

      const pins = new MemoryPinStore();
      const first = await ctx.connect(pins);
      const license = (await first.client.listLicenses()).find((l) => l.dummies === 0 && l.borrowable > l.borrowed);
      if (!license) throw new CheckFailed("no borrowable product on the key");
      const held = { binding: Uint8Array.from(randomBytes(32)), tag: Uint8Array.from(randomBytes(16)) };
      const record = await first.client.borrow({
        opId: Uint8Array.from(randomBytes(16)),
        product: license.product,
        client: "vm-hotplug",
        days: 1,
        ...held,
      });
      detail.borrow = { id: record.id, product: record.product };

      // The key sits on the next request; the unplug comes while the host waits for the answer.
      await ctx.keyControl("hold", { durationMs: HOLD_MS });
      const inFlight = first.client.ping(Uint8Array.of(1, 2, 3), { timeoutMs: HOLD_MS * 2 }).then(
        () => ({ answered: true }),
        (error) => ({ error }),
      );
      await sleep(300);
      const unpluggedAt = performance.now();
      ctx.unplug();
      const outcome = await inFlight;
      detail.inFlightEndedAfterMs = Math.round(performance.now() - unpluggedAt);
      if (!outcome.error)
        throw new CheckFailed("the exchange in flight was answered although the key was unplugged", detail);
      detail.inFlightError = { code: outcome.error.code, name: outcome.error.name, message: outcome.error.message };
      if (outcome.error.code !== "KEY_DISCONNECTED") {
        throw new CheckFailed(`the exchange in flight failed with ${outcome.error.code ?? outcome.error.name}`, detail);
      }
      detail.transportDisconnected = first.transport.disconnected;
      const later = await first.client.getInfo().then(
        () => "answered",
        (error) => error.code ?? error.name,
      );
      detail.callAfterUnplug = later;
      if (later !== "KEY_DISCONNECTED")
        throw new CheckFailed("a call after the unplug did not fail KEY_DISCONNECTED", detail);
      await first.client.close();

      const detach = await ctx.waitFor("a detach event with the key's serial", () => ours("detach", unpluggedAt));
      detail.detachEventMs = Math.round(detach.at - unpluggedAt);

      const pluggedAt = performance.now();
      ctx.replug();
      const attach = await ctx.waitFor(
        "an attach event with the key's serial",
        () => ours("attach", pluggedAt),
        20_000,
      );
      detail.attachEventMs = Math.round(attach.at - pluggedAt);
      ctx.settleUdev();

      const second = await ctx.connect(pins);
      try {
        const after = (await second.client.listAllBorrows()).find((b) => b.id === record.id);
        detail.borrowAfterReplug = after ? after.state : "missing";
        if (after?.state !== "active")
          throw new CheckFailed("the borrow made before the unplug is not active on the key", detail);
        const settled = await second.client.settle({ opId: Uint8Array.from(randomBytes(16)), id: record.id, ...held });
        detail.returned = settled.outcome;
        if (settled.outcome !== "settled")
          throw new CheckFailed("the borrow did not return normally after replug", detail);
      } finally {
        await second.client.close();
      }
      detail.events = events.filter((e) => e.serial === serial || e.type === "error").map((e) => `${e.type}`);
      return detail;
    } finally {
      subscription.unsubscribe();
    }
  },
};
