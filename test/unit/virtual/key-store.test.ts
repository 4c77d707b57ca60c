import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VirtualKeyErrorCode } from "../../../native-mocks/errors.js";
import { FileKeyStore } from "../../../native-mocks/key-store.js";
import { COMMAND_CODECS, Status } from "../../../src/protocol/index.js";
import { bytes, FirmwareHost } from "./key-host.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-virtual-store-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function borrow(host: FirmwareHost, opId = randomBytes(16)) {
  return host.call(COMMAND_CODECS.BORROW, {
    opId,
    product: 1001,
    days: 10,
    binding: bytes(32, 1),
    tag: bytes(16, 2),
    client: "ws-07",
  });
}

describe("FileKeyStore", () => {
  it("keeps borrows, ids, the journal, the clock offset and the identity across a restart", () => {
    const path = join(dir, "key.json");
    const host = new FirmwareHost({ store: new FileKeyStore(path) });
    const opId = randomBytes(16);
    const record = borrow(host, opId).value!;
    host.firmware.setClockOffset(12_345);
    const publicKey = host.firmware.publicKey;

    const restarted = new FirmwareHost({ store: new FileKeyStore(path) });
    expect(restarted.firmware.publicKey).toEqual(publicKey);
    expect(restarted.firmware.clockOffsetMs).toBe(12_345);
    expect(borrow(restarted, opId).value).toEqual(record); // K2 across restart
    expect(borrow(restarted).value?.id).toBe(record.id + 1);
    expect(restarted.call(COMMAND_CODECS.OP_STATUS, { opId }).value?.known).toBe(true);
    // the tag survived too: settling with it works
    const settled = restarted.call(COMMAND_CODECS.SETTLE, {
      opId: randomBytes(16),
      id: record.id,
      binding: bytes(32, 1),
      tag: bytes(16, 2),
    });
    expect(settled.value?.outcome).toBe("settled");
  });

  it("writes the file with mode 0600 and leaves no temp file", () => {
    const path = join(dir, "key.json");
    borrow(new FirmwareHost({ store: new FileKeyStore(path) }));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["key.json"]);
  });

  it("refuses a file whose content no longer matches its checksum", () => {
    const path = join(dir, "key.json");
    borrow(new FirmwareHost({ store: new FileKeyStore(path) }));
    const text = readFileSync(path, "utf8").replace('"ws-07"', '"ws-08"');
    writeFileSync(path, text);
    expect(() => new FirmwareHost({ store: new FileKeyStore(path) })).toThrow(
      expect.objectContaining({
        code: VirtualKeyErrorCode.STATE_CORRUPT,
        message: expect.stringContaining("checksum"),
      }),
    );
  });

  it("refuses a truncated file instead of starting a blank key", () => {
    const path = join(dir, "key.json");
    borrow(new FirmwareHost({ store: new FileKeyStore(path) }));
    const text = readFileSync(path, "utf8");
    writeFileSync(path, text.slice(0, text.length / 2));
    expect(() => new FileKeyStore(path).load()).toThrow(
      expect.objectContaining({ code: VirtualKeyErrorCode.STATE_CORRUPT }),
    );
  });

  it("a state change that cannot be saved is answered INTERNAL and not applied", () => {
    const path = join(dir, "key.json");
    const host = new FirmwareHost({ store: new FileKeyStore(path) });
    const good = borrow(host).value!;
    rmSync(dir, { recursive: true, force: true }); // the directory is gone: the temp file cannot be created
    const failed = borrow(host);
    expect(failed.status).toBe(Status.INTERNAL);
    const page = host.call(COMMAND_CODECS.LIST_BORROWS, { afterId: 0, maxCount: 32 }).value!;
    expect(page.records.map((r) => r.id)).toEqual([good.id]);
  });
});
