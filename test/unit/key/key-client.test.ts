import { describe, expect, it } from "vitest";
import { CounterfeitKeyError, isKeyRefusal, KeyRefusedError } from "../../../src/key/errors.js";
import { connectKey } from "../../../src/key/key-client.js";
import { MemoryPinStore } from "../../../src/key/pin-store.js";
import { AppCommand, Status } from "../../../src/protocol/constants.js";
import { captureLogs } from "../log-capture.js";
import { connectVirtual, virtualSetup } from "./virtual-key-harness.js";

describe("the key's refusals", () => {
  it.each([
    [Status.BAD_REQUEST, "KEY_BAD_REQUEST"],
    [Status.UNKNOWN_COMMAND, "KEY_UNKNOWN_COMMAND"],
    // The same facts the bridge finds in its ledger: one code for one meaning.
    [Status.NO_BORROWABLE, "NO_BORROWABLE"],
    [Status.UNKNOWN_BORROW, "UNKNOWN_BORROW"],
    [Status.UNKNOWN_PRODUCT, "UNKNOWN_PRODUCT"],
    [Status.REBIND_REFUSED, "KEY_REBIND_REFUSED"],
    [Status.NOT_ACTIVE, "KEY_NOT_ACTIVE"],
    [Status.BUSY, "KEY_BUSY"],
    [Status.STORAGE_FULL, "KEY_STORAGE_FULL"],
    [Status.CANCELLED, "KEY_CANCELLED"],
    [Status.INTERNAL, "KEY_INTERNAL"],
    [Status.NOT_PROVISIONED, "KEY_NOT_PROVISIONED"],
    [Status.WRONG_SERIAL, "KEY_WRONG_SERIAL"],
    [Status.BAD_VENDOR_SIGNATURE, "KEY_BAD_VENDOR_SIGNATURE"],
    [Status.STALE_COUNTER, "KEY_STALE_COUNTER"],
    [Status.ALREADY_PROVISIONED, "KEY_ALREADY_PROVISIONED"],
    [0x99, "KEY_STATUS_UNKNOWN"],
  ])("status 0x%s is one class carrying the status, with code %s and the key's reason", (status, code) => {
    const error = new KeyRefusedError(status, AppCommand.BORROW, "the key's words");
    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
    expect(isKeyRefusal(error, status)).toBe(true);
    expect(isKeyRefusal(error, status === Status.BUSY ? Status.INTERNAL : Status.BUSY)).toBe(false);
    expect(error.reason).toBe("the key's words");
    expect(error.message).toContain("BORROW");
    expect(error.message).toContain("the key's words");
  });
});

describe("KeyClient on the virtual key", () => {
  it("maps NO_BORROWABLE with the message license servers show", async () => {
    const setup = virtualSetup();
    const { client } = await connectVirtual(setup);
    const borrow = (i: number) =>
      client.borrow({
        opId: new Uint8Array(16).fill(i),
        product: 1002,
        days: 1,
        binding: new Uint8Array(32),
        tag: new Uint8Array(16),
        client: "c",
      });
    await borrow(1);
    await borrow(2);
    const error = (await borrow(3).then(
      () => undefined,
      (e: unknown) => e,
    )) as KeyRefusedError;
    expect(error.status).toBe(Status.NO_BORROWABLE);
    expect(error.code).toBe("NO_BORROWABLE");
    expect(error.reason).toMatch(/No more licenses are available for borrowing/);
    await client.close();
    setup.bus.close();
  });

  it("pins the public key at first sight and refuses the same serial with another key", async () => {
    const pins = new MemoryPinStore();
    const first = virtualSetup();
    const a = await connectVirtual({ ...first, pins });
    expect(pins.get(a.client.serial)).toEqual(a.client.info.publicKey);
    await a.client.close();
    first.bus.close();

    // Another key (new identity) presenting the same serial.
    const logs = captureLogs();
    const impostor = virtualSetup();
    const connecting = connectVirtual({ ...impostor, pins });
    await expect(connecting).rejects.toBeInstanceOf(CounterfeitKeyError);
    await expect(connecting).rejects.toMatchObject({ code: "KEY_COUNTERFEIT" });
    impostor.bus.close();
    expect(logs.matching("error", /^counterfeit key refused$/)).toMatchObject([{ serial: a.client.serial }]);
  });

  it("sends nothing after GET_INFO to a counterfeit key", async () => {
    const setup = virtualSetup();
    const pins = new MemoryPinStore();
    pins.pin("KB-DEMO-0001", new Uint8Array(32).fill(1));
    const before = setup.key.counters.toKey;
    const logs = captureLogs();
    await expect(connectVirtual({ ...setup, pins })).rejects.toMatchObject({ code: "KEY_COUNTERFEIT" });
    expect(logs.matching("error", /^counterfeit key refused$/)).toMatchObject([{ serial: "KB-DEMO-0001" }]);
    // INIT and GET_INFO, one report each.
    expect(setup.key.counters.toKey - before).toBe(2);
    setup.bus.close();
  });

  it("turns a response corrupted on the wire into a typed error, and keeps working", async () => {
    const setup = virtualSetup();
    const { client } = await connectVirtual(setup);
    setup.key.injectFault({ kind: "corrupt", direction: "toHost", nth: 1, byteIndex: 20 });
    await expect(client.getTime()).rejects.toMatchObject({ code: "PROTOCOL_BAD_SIGNATURE" });
    expect((await client.getTime()).keyTimeMs).toBeGreaterThan(0);
    await client.close();
    setup.bus.close();
  });

  it("with calls queued, a corrupted answer fails only its own call and no answer skips verification", async () => {
    const setup = virtualSetup();
    const { client } = await connectVirtual(setup);
    setup.key.injectFault({ kind: "corrupt", direction: "toHost", nth: 1, byteIndex: 20 });
    const results = await Promise.allSettled([client.getTime(), client.getTime(), client.getTime()]);
    const rejected = results.filter((r) => r.status === "rejected");
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toMatchObject({ code: "PROTOCOL_BAD_SIGNATURE" });
    for (const r of results) if (r.status === "fulfilled") expect(r.value.keyTimeMs).toBeGreaterThan(0);
    await client.close();
    setup.bus.close();
  });

  it("hands over a settle before its proof, and the proof fails for an answer altered on the wire", async () => {
    const setup = virtualSetup();
    const { client } = await connectVirtual(setup);
    const product = setup.key.state.licenses[0]?.product as number;
    const binding = new Uint8Array(32).fill(1);
    const tag = new Uint8Array(16).fill(2);
    const borrow = (fill: number) =>
      client.borrow({ opId: new Uint8Array(16).fill(fill), product, days: 1, binding, tag, client: "ws" });
    const first = await borrow(3);
    const second = await borrow(4);

    const genuine = await client.settleWithPendingProof({
      opId: new Uint8Array(16).fill(5),
      id: first.id,
      binding,
      tag,
    });
    await expect(genuine.verified).resolves.toBeUndefined();
    expect(genuine.value.outcome).toBe("settled");

    // The SETTLE answer is short: byte 40 of its first report lies inside the signature, so it decodes.
    setup.key.injectFault({ kind: "corrupt", direction: "toHost", nth: 1, byteIndex: 40 });
    const altered = await client.settleWithPendingProof({
      opId: new Uint8Array(16).fill(6),
      id: second.id,
      binding,
      tag,
    });
    await expect(altered.verified).rejects.toMatchObject({ code: "PROTOCOL_BAD_SIGNATURE" });

    // A refusal is still proven before its typed error is thrown.
    setup.key.injectFault({ kind: "corrupt", direction: "toHost", nth: 1, byteIndex: 20 });
    const unknownBorrow = { opId: new Uint8Array(16).fill(7), id: 4242, binding, tag };
    await expect(client.settleWithPendingProof(unknownBorrow)).rejects.toMatchObject({
      code: "PROTOCOL_BAD_SIGNATURE",
    });
    await expect(client.settleWithPendingProof(unknownBorrow)).rejects.toMatchObject({ code: "UNKNOWN_BORROW" });
    await client.close();
    setup.bus.close();
  });

  it("a borrow's answer altered on the wire is refused before the caller sees any of it", async () => {
    const setup = virtualSetup();
    const { client } = await connectVirtual(setup);
    const product = setup.key.state.licenses[0]?.product as number;
    // Byte 40 of the first report lies inside the record's binding: the body would decode.
    setup.key.injectFault({ kind: "corrupt", direction: "toHost", nth: 1, byteIndex: 40 });
    await expect(
      client.borrow({
        opId: new Uint8Array(16).fill(3),
        product,
        days: 1,
        binding: new Uint8Array(32).fill(1),
        tag: new Uint8Array(16).fill(2),
        client: "ws",
      }),
    ).rejects.toMatchObject({ code: "PROTOCOL_BAD_SIGNATURE" });
    await client.close();
    setup.bus.close();
  });

  it("connectKey verifies GET_INFO with the pinned key, not the claimed one", async () => {
    const setup = virtualSetup();
    const { client, transport } = await connectVirtual(setup);
    const again = await connectKey(transport, setup.pins);
    expect(again.info.serial).toBe(client.serial);
    await client.close();
    setup.bus.close();
  });
});
