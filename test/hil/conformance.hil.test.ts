/**
 * The conformance suite against a REAL key through real node-hid (hardware in the loop).
 *
 *   KEYBRIDGE_HIL=1 npx vitest run test/hil
 *   KEYBRIDGE_HIL=1 KEYBRIDGE_HIL_VENDOR_KEY=vendor.key npx vitest run test/hil
 *
 * With the vendor secret the key was provisioned with (KEYBRIDGE_HIL_VENDOR_KEY), the cases that
 * check the key against its vendor run too; the ones that apply an update are destructive and
 * stay skipped on a real key.
 * Without the variable, or without a key attached, every case is skipped visibly with the
 * reason. A key that already holds borrows is refused (the suite borrows and returns seats and
 * must not disturb production borrows) unless KEYBRIDGE_HIL_FORCE=1. Cases that need clock
 * control or leave dummies behind are skipped: a real key's clock cannot be moved.
 */
import { afterAll, describe, expect, it } from "vitest";
import { connectKey, type KeyClient } from "../../src/key/key-client.js";
import { MemoryPinStore } from "../../src/key/pin-store.js";
import { loadHidBackend } from "../../src/transport/backend.js";
import { listKeys } from "../../src/transport/discovery.js";
import { openHidPort } from "../../src/transport/node-hid-port.js";
import { Transport } from "../../src/transport/transport.js";
import { conformanceCases, skipReason, type TestVendor, vendorFromFile } from "../conformance/index.js";

const enabled = process.env.KEYBRIDGE_HIL === "1";
const vendorFile = process.env.KEYBRIDGE_HIL_VENDOR_KEY;
const vendor: TestVendor | undefined = enabled && vendorFile ? vendorFromFile(vendorFile) : undefined;
const force = process.env.KEYBRIDGE_HIL_FORCE === "1";

interface Connected {
  readonly client?: KeyClient;
  readonly reason?: string;
  readonly outstandingBorrows?: number;
}

async function connectRealKey(): Promise<Connected> {
  if (!enabled) return { reason: "set KEYBRIDGE_HIL=1 to run against a real key" };
  const backend = await loadHidBackend();
  const [device, ...others] = await listKeys(backend);
  if (device === undefined) return { reason: "no keybridge key (VID 0x1209, PID 0x0001) is attached" };
  if (others.length > 0) process.stderr.write(`HIL: ${others.length + 1} keys attached, using ${device.path}\n`);
  const transport = await Transport.open(await openHidPort(backend, device));
  const client = await connectKey(transport, new MemoryPinStore());
  const outstandingBorrows = (await client.listAllBorrows()).length;
  process.stderr.write(`HIL: key ${client.serial} firmware ${client.info.firmwareVersion} at ${device.path}\n`);
  return { client, outstandingBorrows };
}

const connected = await connectRealKey();
if (connected.reason !== undefined) process.stderr.write(`HIL conformance skipped: ${connected.reason}\n`);

afterAll(async () => {
  await connected.client?.close();
});

describe.skipIf(connected.client === undefined)(`conformance on a real key`, () => {
  it("the key holds no borrows (or KEYBRIDGE_HIL_FORCE=1)", () => {
    expect(
      force || connected.outstandingBorrows === 0,
      `the key holds ${connected.outstandingBorrows} borrow(s); refusing to test on it. Return them first, or set KEYBRIDGE_HIL_FORCE=1`,
    ).toBe(true);
  });

  for (const testCase of conformanceCases) {
    const context = connected.client ? { client: connected.client, ...(vendor ? { vendor } : {}) } : undefined;
    const reason = context ? skipReason(testCase, context, false) : undefined;
    const title = `[${testCase.rule}] ${testCase.name}`;
    if (reason !== undefined) {
      it.skip(`${title} (skipped: ${reason})`, () => {});
      continue;
    }
    it(title, async () => {
      const client = connected.client;
      if (client === undefined) throw new Error("no key");
      if (!force && connected.outstandingBorrows !== 0) throw new Error("refused: the key holds borrows");
      await testCase.run({ client, ...(vendor ? { vendor } : {}) });
    });
  }
});

describe.skipIf(connected.client !== undefined)("conformance on a real key", () => {
  it.skip(`skipped: ${connected.reason ?? ""}`, () => {});
});
