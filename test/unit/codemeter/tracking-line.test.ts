import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TrackingEntry } from "../../../src/codemeter/model/entries.js";
import { scanLines } from "../../../src/codemeter/model/line-scan.js";
import { parseTimestamp } from "../../../src/codemeter/model/timestamp.js";
import { parseTrackingLine } from "../../../src/codemeter/model/tracking-line.js";

// SYNTHETIC: every line below is built from the grammar of CodeMeter's License Tracking help texts
// (keys, quoting, both timestamp forms); none comes from a real installation.

function entry(line: string): TrackingEntry {
  const result = parseTrackingLine(line);
  if (!result.ok) throw new Error(`skipped (${result.reason}): ${line}`);
  return result.entry;
}

const T = Date.UTC(2012, 11, 24, 8, 32, 59);

describe("timestamps", () => {
  it.each([
    ["2012-12-24T08:32:59", T],
    ["2012-12-24-083259", T],
    ["2024-02-29T23:59:59", Date.UTC(2024, 1, 29, 23, 59, 59)],
    ["1970-01-01T00:00:00", 0],
  ])("%s is %d", (text, ms) => {
    expect(parseTimestamp(text)).toBe(ms);
  });

  it.each([
    "2023-02-29T00:00:00",
    "2012-13-01T00:00:00",
    "2012-12-24T24:00:00",
    "2012-12-24 08:32:59",
    "20121224T083259",
    "2012-12-24T08:32",
    "",
  ])("%j is not a timestamp", (text) => {
    expect(parseTimestamp(text)).toBeNaN();
  });

  it("agrees with Date for any second of four centuries (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1900, 0, 1) / 1000, max: Date.UTC(2300, 0, 1) / 1000 }), (seconds) => {
        const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
        const compact = `${iso.slice(0, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
        expect(parseTimestamp(iso)).toBe(seconds * 1000);
        expect(parseTimestamp(compact)).toBe(seconds * 1000);
      }),
    );
  });
});

describe("the entry grammar, one table row per type and spelling", () => {
  it.each([
    [
      "Borrow, 6.40 spelling",
      '2012-12-24T08:32:59 Borrow Server:"lic-srv", LicenseId:2-1500002-100532-18, BorrowId:3-6903986-100532-0, Client:"ws-17", User:"anna", Expires:2013-01-23T08:32:59, BorrowSn:3-6903986',
    ],
    [
      "Borrow, 6.81 spelling, compact timestamps",
      '2012-12-24-083259 Borrow Server:"lic-srv", LicenseID:2-1500002-100532-18, BorrowID:3-6903986-100532-0, Client:"ws-17", User:"anna", Expires:2013-01-23-083259, BorrowSN:3-6903986',
    ],
  ])("%s", (_name, line) => {
    const parsed = entry(line);
    expect(parsed).toMatchObject({
      type: "Borrow",
      at: T,
      server: "lic-srv",
      licenseId: "2-1500002-100532-18",
      borrowId: "3-6903986-100532-0",
      client: "ws-17",
      user: "anna",
      expiresAt: Date.UTC(2013, 0, 23, 8, 32, 59),
      borrowSn: "3-6903986",
    });
  });

  it("Borrow with Expires:never has no expiry", () => {
    const parsed = entry(
      '2012-12-24T08:32:59 Borrow Server:"s", LicenseId:2-1-10-1, BorrowId:3-2-10-31, Client:"c", User:"u", Expires:never, BorrowSn:3-2',
    );
    expect(parsed.type === "Borrow" && parsed.expiresAt).toBeNull();
  });

  it("Access, both key spellings", () => {
    for (const [lic, acc, app] of [
      ["LicenseId", "AccessId", "AppId"],
      ["LicenseID", "AccessID", "AppID"],
    ]) {
      expect(
        entry(
          `2012-12-24T08:32:59 Access Server:"s", ${lic}:2-1500002-100532-18, ${acc}:2-1500002-100532-18-4, Client:"ws", User:"u", ${app}:77, AppText:"ARCHICAD 27"`,
        ),
      ).toMatchObject({
        type: "Access",
        licenseId: "2-1500002-100532-18",
        accessId: "2-1500002-100532-18-4",
        appId: "77",
        appText: "ARCHICAD 27",
      });
    }
  });

  it("an entry decoded on first use serialises like any other", () => {
    const access = entry(
      '2012-12-24T08:32:59 Access Server:"s", LicenseID:1, AccessID:2, Client:"c", User:"u", AppID:3, AppText:"t"',
    );
    expect(JSON.parse(JSON.stringify(access))).toEqual({
      type: "Access",
      at: T,
      server: "s",
      licenseId: "1",
      accessId: "2",
      client: "c",
      user: "u",
      appId: "3",
      appText: "t",
      fields: [
        { key: "Server", value: "s", quoted: true },
        { key: "LicenseID", value: "1", quoted: false },
        { key: "AccessID", value: "2", quoted: false },
        { key: "Client", value: "c", quoted: true },
        { key: "User", value: "u", quoted: true },
        { key: "AppID", value: "3", quoted: false },
        { key: "AppText", value: "t", quoted: true },
      ],
      words: [],
    });
  });

  it("Release", () => {
    expect(entry('2012-12-24T08:32:59 Release Server:"s", AccessID:2-1500002-100532-18-4')).toMatchObject({
      type: "Release",
      server: "s",
      accessId: "2-1500002-100532-18-4",
    });
  });

  it("Denial", () => {
    expect(
      entry('2012-12-24T08:32:59 Denial Server:"s", LicenseID:2-1-10-1, Client:"c", User:"u", AppID:5, AppText:"x"'),
    ).toMatchObject({ type: "Denial", licenseId: "2-1-10-1", client: "c", user: "u", appId: "5", appText: "x" });
  });

  it("License", () => {
    expect(
      entry(
        '2012-12-24T08:32:59 License Server:"s", LicenseID:2-1500002-100532-18, SN:2-1500002, FC:100532, PC:1001, FM:0, ET:never, LQ:5, PT:"Synthetic Product"',
      ),
    ).toMatchObject({
      type: "License",
      licenseId: "2-1500002-100532-18",
      serial: "2-1500002",
      firmCode: 100532,
      productCode: 1001,
      featureMap: "0",
      expiration: null,
      quantity: 5,
      productText: "Synthetic Product",
    });
  });

  it("Admin CodeMeter_started (no comma after the server) and CodeMeter_stopped", () => {
    expect(entry('2012-12-24T08:32:59 Admin Server:"s" CodeMeter_started 2012-12-24T08:32:58')).toMatchObject({
      type: "Admin",
      server: "s",
      event: "CodeMeter_started",
      eventAt: T - 1000,
    });
    expect(entry('2012-12-24T08:32:59 Admin Server:"s" CodeMeter_stopped')).toMatchObject({
      type: "Admin",
      event: "CodeMeter_stopped",
      eventAt: null,
    });
  });

  it("SignedLogfile header (the one public line's shape) and TmrLogfile", () => {
    expect(
      entry(
        "2014-02-07T10:34:33 SignedLogfile FirmCode:10, PublicKey:b4342e0000000000, Runtime-Version:5.11.1343.201, LogfileId:13",
      ),
    ).toMatchObject({ type: "SignedLogfile", firmCode: 10, runtimeVersion: "5.11.1343.201", logfileId: "13" });
    expect(entry("2014-02-07T10:34:33 TmrLogfile FirmCode:10, Runtime-Version:7.60")).toMatchObject({
      type: "TmrLogfile",
      firmCode: 10,
      runtimeVersion: "7.60",
    });
  });

  it("escaped quotes inside strings, commas and colons inside strings", () => {
    const parsed = entry(
      '2012-12-24T08:32:59 Access Server:"s", LicenseID:1, AccessID:2, Client:"ws \\"north\\", 2", User:"a:b", AppID:1, AppText:"say \\"hi\\""',
    );
    expect(parsed).toMatchObject({ client: 'ws "north", 2', user: "a:b", appText: 'say "hi"' });
  });

  it("keeps unknown types and unknown keys, with the keys as written", () => {
    const parsed = entry('2012-12-24T08:32:59 ListOfLicenses Server:"s", Count:3, NewKey:"v" trailing');
    expect(parsed).toMatchObject({ type: "Other", rawType: "ListOfLicenses", words: ["trailing"] });
    expect(parsed.fields.map((f) => f.key)).toEqual(["Server", "Count", "NewKey"]);
    const borrow = entry(
      '2012-12-24T08:32:59 Borrow Server:"s", LicenseId:2-1-10-1, BorrowId:3-2-10-0, Client:"c", User:"u", Expires:never, BorrowSn:3-2, Extra:"kept"',
    );
    expect(borrow.fields.at(-1)).toEqual({ key: "Extra", value: "kept", quoted: true });
  });

  it("ignores a CR before the newline, a BOM and surrounding blanks", () => {
    expect(entry('\uFEFF2012-12-24T08:32:59 Release Server:"s", AccessID:9\r').type).toBe("Release");
  });

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    ["not a log line", "no-timestamp"],
    ["2012-12-24T08:32:59", "no-type"],
    ["2012-12-24T08:32:59 ", "no-type"],
    ["2012-12-24T08:32:59Borrow", "no-timestamp"],
    ["2012-12-32T08:32:59 Borrow", "no-timestamp"],
    ['2012-12-24T08:32:59 Borrow Server:"unterminated', "unterminated-quote"],
    ['2012-12-24T08:32:59 Access Server:"s", Client:"cut off', "unterminated-quote"],
    ['2012-12-24T08:32:59 Borrow Server:"s", Expires:never', "missing-field"],
    ["2012-12-24T08:32:59 Borrow BorrowId:1-2-3-4, Expires:tomorrow", "bad-value"],
    ['2012-12-24T08:32:59 License Server:"s"', "missing-field"],
  ])("skips %j (%s)", (line, reason) => {
    expect(parseTrackingLine(line)).toEqual({ ok: false, reason });
  });
});

describe("any input", () => {
  it("any string gives an entry or a counted skip, never a throw (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (line) => {
        const result = parseTrackingLine(line);
        expect(typeof result.ok).toBe("boolean");
      }),
      { numRuns: 5000 },
    );
  });

  it("grammar-shaped lines with random values never throw, and a quoted value round-trips (property)", () => {
    const value = fc.string({ maxLength: 40 }).filter((text) => !text.includes("\n"));
    fc.assert(
      fc.property(value, value, (client, user) => {
        const quote = (text: string) => `"${text.replaceAll('"', '\\"')}"`;
        const line = `2012-12-24T08:32:59 Access Server:"s", LicenseID:1, Client:${quote(client)}, User:${quote(user)}`;
        const result = parseTrackingLine(line);
        if (!client.endsWith("\\") && !user.endsWith("\\")) {
          expect(result).toMatchObject({ ok: true, entry: { client, user } });
        } else {
          expect(typeof result.ok).toBe("boolean");
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("any bytes, cut into any reads: every line is an entry or a counted skip, and the scan ends (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 }),
        (bytes, cuts) => {
          const maxLine = 200;
          const data = Buffer.from(bytes);
          // Reference: the lines the data holds, and how many of them are too long.
          const pieces = data.toString("latin1").split("\n");
          pieces.pop();
          const expectedLong = pieces.filter((piece) => piece.length > maxLine).length;
          const expectedShort = pieces.length - expectedLong;

          let position = 0;
          let skipping = false;
          let entries = 0;
          let skipped = 0;
          let oversized = 0;
          let reads = 0;
          const buffer = Buffer.alloc(maxLine + 64);
          while (position < data.length) {
            reads++;
            expect(reads).toBeLessThan(10_000);
            const want = Math.min(buffer.length, cuts[reads % cuts.length]! + maxLine, data.length - position);
            const length = data.copy(buffer, 0, position, position + want);
            const result = scanLines(buffer, length, { skipping }, maxLine, (line) => {
              if (parseTrackingLine(line).ok) entries++;
              else skipped++;
            });
            oversized += result.oversized;
            skipping = result.skipping;
            if (result.consumed === 0) break; // a partial line at the end of the data
            position += result.consumed;
          }
          expect(oversized).toBe(expectedLong);
          expect(entries + skipped).toBe(expectedShort);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
