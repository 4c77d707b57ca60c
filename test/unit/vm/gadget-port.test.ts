/**
 * The gadget port off the VM: a fake gadget node stands in for /dev/hidg0, and the real
 * Transport + KeyClient talk to the firmware through it. What the guest checks over a real kernel
 * (docs/vm.md) is the same code with the node opened by fs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { DEMO_LICENSES } from "../../../native-mocks/demo.js";
import {
  configfsEntries,
  firmwareBcd,
  type GadgetFile,
  GadgetPort,
  type GadgetPortEvent,
  gadgetParameters,
  gadgetPowerProbe,
} from "../../../native-mocks/gadget-port.js";
import { MemoryKeyStore } from "../../../native-mocks/key-store.js";
import { connectKey, type KeyClient } from "../../../src/key/key-client.js";
import { MemoryPinStore } from "../../../src/key/pin-store.js";
import { HID_REPORT_DESCRIPTOR, REPORT_SIZE, USB_PRODUCT_ID, USB_VENDOR_ID } from "../../../src/protocol/constants.js";
import type { HidPort } from "../../../src/transport/hid-port.js";
import { Transport } from "../../../src/transport/transport.js";

const SERIAL = "KB-UNIT-0001";

/** Reports queued in one direction with waiting readers, like one side of f_hid. */
class ReportQueue {
  private readonly queue: Uint8Array[] = [];
  private readonly waiting: Array<{ resolve: (r: Uint8Array | undefined) => void; timer?: NodeJS.Timeout }> = [];

  push(report: Uint8Array): void {
    const reader = this.waiting.shift();
    if (reader === undefined) {
      this.queue.push(report);
      return;
    }
    if (reader.timer !== undefined) clearTimeout(reader.timer);
    reader.resolve(report);
  }

  take(timeoutMs?: number): Promise<Uint8Array | undefined> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const reader: { resolve: typeof resolve; timer?: NodeJS.Timeout } = { resolve };
      if (timeoutMs !== undefined) {
        reader.timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(reader), 1);
          resolve(undefined);
        }, timeoutMs);
      }
      this.waiting.push(reader);
    });
  }

  /** Wakes a waiting reader with nothing (to unblock a read loop at the end of a test). */
  release(): void {
    for (const reader of this.waiting.splice(0)) reader.resolve(undefined);
  }
}

/** A fake gadget node: the host writes into `toKey`, the port's writes land in `toHost`. */
class FakeGadget {
  readonly toKey = new ReportQueue();
  readonly toHost = new ReportQueue();
  opens = 0;
  failNextRead: Error | undefined;
  failOpens = 0;

  open = async (): Promise<GadgetFile> => {
    if (this.failOpens > 0) {
      this.failOpens--;
      throw Object.assign(new Error("ENOENT: no such file or directory, open '/dev/hidg0'"), { code: "ENOENT" });
    }
    this.opens++;
    return {
      read: async (into) => {
        const report = await this.toKey.take();
        if (this.failNextRead !== undefined) {
          const error = this.failNextRead;
          this.failNextRead = undefined;
          throw error;
        }
        if (report === undefined) return 0;
        into.set(report);
        return report.length;
      },
      write: async (report) => {
        this.toHost.push(Uint8Array.from(report));
      },
      close: () => {},
    };
  };

  hostPort(): HidPort {
    return {
      info: { path: "/dev/hidraw-fake", serial: SERIAL, vendorId: USB_VENDOR_ID, productId: USB_PRODUCT_ID },
      write: async (report) => this.toKey.push(Uint8Array.from(report)),
      read: (timeoutMs) => this.toHost.take(timeoutMs),
      close: async () => {},
    };
  }
}

interface Setup {
  readonly gadget: FakeGadget;
  readonly port: GadgetPort;
  readonly store: MemoryKeyStore;
  readonly events: GadgetPortEvent[];
  power: boolean;
}

const open: Array<{ setup: Setup; client?: KeyClient }> = [];

afterEach(async () => {
  for (const { setup, client } of open.splice(0)) {
    await client?.close();
    setup.port.close();
    setup.gadget.toKey.release();
  }
});

function setUp(options: { withPower?: boolean; store?: MemoryKeyStore } = {}): Setup {
  const gadget = new FakeGadget();
  const store = options.store ?? new MemoryKeyStore();
  const events: GadgetPortEvent[] = [];
  const setup: Setup = { gadget, store, events, power: true, port: undefined as unknown as GadgetPort };
  const port = new GadgetPort({
    open: gadget.open,
    store,
    newKey: { serial: SERIAL, licenses: DEMO_LICENSES },
    ...(options.withPower ? { powered: () => setup.power, powerPollMs: 5 } : {}),
    reopenDelayMs: 5,
    onEvent: (event) => events.push(event),
  });
  Object.assign(setup, { port });
  open.push({ setup });
  return setup;
}

async function connect(setup: Setup, pins = new MemoryPinStore()): Promise<KeyClient> {
  const transport = await Transport.open(setup.gadget.hostPort(), { timeoutMs: 2_000 });
  const client = await connectKey(transport, pins);
  const entry = open.find((o) => o.setup === setup);
  if (entry) entry.client = client;
  return client;
}

async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const borrowRequest = (product: number) => ({
  opId: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
  product,
  client: "gadget-test",
  days: 1,
  binding: new Uint8Array(32).fill(7),
  tag: new Uint8Array(16).fill(9),
});

describe("gadget parameters", () => {
  it("come from the protocol constants and the key's own serial and firmware version", () => {
    const params = gadgetParameters({ serial: "KB-VM-0042", firmwareVersion: "1.2.3" });
    expect(params).toMatchObject({
      idVendor: USB_VENDOR_ID,
      idProduct: USB_PRODUCT_ID,
      serialNumber: "KB-VM-0042",
      bcdDevice: 0x0102,
      reportLength: REPORT_SIZE,
      protocol: 0,
      subclass: 0,
    });
    expect([...params.reportDescriptor]).toEqual([...HID_REPORT_DESCRIPTOR]);
  });

  it("firmware versions become BCD major.minor", () => {
    fc.assert(
      fc.property(fc.nat(99), fc.nat(99), fc.nat(), (major, minor, patch) => {
        const bcd = firmwareBcd(`${major}.${minor}.${patch}`);
        const digits = bcd.toString(16).padStart(4, "0");
        expect(Number(digits.slice(0, 2))).toBe(major);
        expect(Number(digits.slice(2))).toBe(minor);
      }),
    );
  });

  it("configfs entries create every directory before its attributes and link the function last", () => {
    const entries = configfsEntries(gadgetParameters({ serial: SERIAL, firmwareVersion: "1.0.0" }));
    const created = new Set<string>([""]);
    for (const entry of entries) {
      const parent = entry.path.split("/").slice(0, -1).join("/");
      if (entry.kind === "dir") {
        created.add(entry.path);
        for (let p = entry.path; p.includes("/"); p = p.slice(0, p.lastIndexOf("/"))) created.add(p);
      } else {
        expect(created.has(parent) || !parent.includes("/"), `${entry.path} before its directory`).toBe(true);
      }
    }
    expect(entries.at(-1)).toEqual({ kind: "link", path: "configs/c.1/hid.usb0", target: "functions/hid.usb0" });
    const serial = entries.find((e) => e.path === "strings/0x409/serialnumber");
    expect(serial).toEqual({ kind: "file", path: "strings/0x409/serialnumber", value: SERIAL });
    expect(entries.find((e) => e.path === "idVendor")).toMatchObject({ value: "0x1209" });
  });
});

describe("gadget power probe", () => {
  it("is powered only while the gadget is bound to a controller whose bus supplies it", () => {
    const root = mkdtempSync(join(tmpdir(), "kb-gadget-"));
    try {
      const gadget = join(root, "gadget");
      const udc = join(root, "udc");
      mkdirSync(gadget);
      mkdirSync(join(udc, "dummy_udc.0"), { recursive: true });
      const probe = gadgetPowerProbe(gadget, udc);
      expect(probe()).toBe(false); // no UDC attribute at all
      writeFileSync(join(gadget, "UDC"), "dummy_udc.0\n");
      writeFileSync(join(udc, "dummy_udc.0", "state"), "configured\n");
      expect(probe()).toBe(true);
      writeFileSync(join(udc, "dummy_udc.0", "state"), "suspended\n");
      expect(probe()).toBe(true);
      writeFileSync(join(udc, "dummy_udc.0", "state"), "not attached\n");
      expect(probe()).toBe(false); // cable pulled on a real controller
      writeFileSync(join(udc, "dummy_udc.0", "state"), "configured\n");
      writeFileSync(join(gadget, "UDC"), "\n");
      expect(probe()).toBe(false); // unbound, although dummy_udc still says "configured"
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("GadgetPort", () => {
  it("serves the firmware: the real transport and key client connect and borrow through the node", async () => {
    const setup = setUp();
    const snapshot = setup.port.start();
    expect(snapshot.serial).toBe(SERIAL);
    await setup.port.ready;
    const client = await connect(setup);
    expect(client.serial).toBe(SERIAL);
    const record = await client.borrow(borrowRequest(1001));
    expect(record.state).toBe("active");
    expect(setup.port.snapshot().borrows.map((b) => b.id)).toEqual([record.id]);
  });

  it("keeps the key's state in the store across a restart of the port", async () => {
    const store = new MemoryKeyStore();
    const first = setUp({ store });
    first.port.start();
    const client = await connect(first);
    const record = await client.borrow(borrowRequest(1002));
    const publicKey = first.port.snapshot().publicKey;
    first.port.close();

    const second = setUp({ store });
    second.port.start();
    expect(second.port.snapshot().publicKey).toEqual(publicKey);
    const again = await connect(second);
    expect((await again.listAllBorrows()).map((b) => b.id)).toEqual([record.id]);
  });

  it("an unpowered bus turns the key off; power back boots it from the store with its borrows", async () => {
    const setup = setUp({ withPower: true });
    setup.port.start();
    const pins = new MemoryPinStore();
    const client = await connect(setup, pins);
    const record = await client.borrow(borrowRequest(1001));

    setup.power = false;
    await until("the key to lose power", () => setup.port.key === undefined);
    expect(setup.events).toContainEqual({ type: "power", powered: false });
    // Nobody answers while the key is off.
    await expect(client.ping(Uint8Array.of(1), { timeoutMs: 200 })).rejects.toMatchObject({
      code: "TRANSPORT_TIMEOUT",
    });

    setup.power = true;
    await until("the key to boot", () => setup.port.key !== undefined);
    const fresh = await connect(setup, pins);
    const borrows = await fresh.listAllBorrows();
    expect(borrows.map((b) => [b.id, b.state])).toEqual([[record.id, "active"]]);
  });

  it("reopens the node after a read error and serves again", async () => {
    const setup = setUp();
    setup.gadget.failOpens = 2;
    setup.port.start();
    await setup.port.ready;
    expect(setup.events.filter((e) => e.type === "io-error" && e.operation === "open")).toHaveLength(2);
    setup.gadget.failNextRead = Object.assign(new Error("ESHUTDOWN: cannot send after transport endpoint shutdown"), {
      code: "ESHUTDOWN",
    });
    setup.gadget.toKey.push(new Uint8Array(REPORT_SIZE)); // wakes the read, which then fails
    await until("a reopen", () => setup.gadget.opens === 2);
    expect(setup.events).toContainEqual(expect.objectContaining({ type: "io-error", operation: "read" }));
    const client = await connect(setup);
    expect(await client.ping(Uint8Array.of(1, 2, 3))).toEqual(Uint8Array.of(1, 2, 3));
  });

  it("clock control and reboot act on the served key", async () => {
    const setup = setUp();
    setup.port.start();
    const client = await connect(setup);
    const before = (await client.getTime()).keyTimeMs;
    setup.port.advanceClock(86_400_000);
    expect((await client.getTime()).keyTimeMs).toBeGreaterThanOrEqual(before + 86_400_000);
    const publicKey = setup.port.snapshot().publicKey;
    setup.port.reboot();
    expect(setup.port.snapshot().publicKey).toEqual(publicKey);
    expect(setup.port.snapshot().clockOffsetMs).toBe(86_400_000);
  });

  it("after close nothing answers and the key methods refuse", async () => {
    const setup = setUp();
    setup.port.start();
    await setup.port.ready;
    setup.port.close();
    expect(() => setup.port.snapshot()).toThrow(/no power/);
    await expect(Transport.open(setup.gadget.hostPort(), { initTimeoutMs: 100 })).rejects.toMatchObject({
      code: "TRANSPORT_TIMEOUT",
    });
  });
});
