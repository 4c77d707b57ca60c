import { describe, expect, it } from "vitest";
import { BorrowBook } from "../../../src/codemeter/model/borrow-book.js";
import type { TrackingEntry } from "../../../src/codemeter/model/entries.js";
import { codeMeterPreflight } from "../../../src/codemeter/model/preflight.js";
import { parseTrackingLine } from "../../../src/codemeter/model/tracking-line.js";
import { buildView } from "../../../src/codemeter/model/view.js";

// The borrow book fed SYNTHETIC lines directly: the reducer's rules without any I/O.

const T0 = Date.UTC(2026, 2, 2, 8, 0, 0);
const MIN = 60_000;
const DAY = 86_400_000;
const ts = (ms: number) => new Date(ms).toISOString().slice(0, 19);

function entries(...lines: string[]): TrackingEntry[] {
  return lines.map((line) => {
    const parsed = parseTrackingLine(line);
    if (!parsed.ok) throw new Error(`bad test line: ${line}`);
    return parsed.entry;
  });
}

const header = (fc: number, at = T0) =>
  `${ts(at)} SignedLogfile FirmCode:${fc}, PublicKey:00, Runtime-Version:8.20a, LogfileId:1`;
const borrow = (at: number, id: string, fc: number, expires: number | null, client = "ws") =>
  `${ts(at)} Borrow Server:"s", LicenseID:3-6903986-${fc}-1, BorrowID:${id}, Client:"${client}", User:"u", Expires:${expires === null ? "never" : ts(expires)}, BorrowSn:3-7000001`;
const license = (at: number, fc: number, pc: number) =>
  `${ts(at)} License Server:"s", LicenseID:3-6903986-${fc}-1, SN:3-6903986, FC:${fc}, PC:${pc}, FM:0, ET:never, LQ:5, PT:"Synthetic"`;
const started = (at: number) => `${ts(at)} Admin Server:"s" CodeMeter_started ${ts(at)}`;
const access = (at: number) =>
  `${ts(at)} Access Server:"s", LicenseID:3-6903986-10-1, AccessID:9, Client:"c", User:"u", AppID:1, AppText:"x"`;

function feed(book: BorrowBook, stream: string, now: number, ...lines: string[]) {
  return book.apply({ type: "entries", now, stream, entries: entries(...lines), atEnd: true });
}

describe("the borrow book", () => {
  it("learns the product code from a License entry that comes after the borrow", () => {
    const book = new BorrowBook();
    feed(book, "a", T0, header(10), borrow(T0, "3-7000001-10-0", 10, T0 + 30 * DAY));
    expect(book.outstanding(T0)[0]).toMatchObject({ serial: "3-6903986", firmCode: 10, productCode: null });
    feed(book, "a", T0, license(T0 + MIN, 10, 1001));
    expect(book.outstanding(T0)[0]?.productCode).toBe(1001);
  });

  it("reading the same lines twice (a copied rotation) changes nothing and audits nothing", () => {
    const book = new BorrowBook();
    const lines = [
      header(10),
      borrow(T0, "3-7000001-10-0", 10, T0 + 30 * DAY),
      started(T0 + DAY),
      borrow(T0 + DAY, "3-7000001-10-0", 10, T0 + 30 * DAY),
    ];
    const first = feed(book, "a", T0 + DAY + 10 * MIN, ...lines);
    expect(first.audit.map((a) => a.kind)).toEqual(["codemeter-borrow-seen", "codemeter-borrow-relisted"]);
    const again = feed(book, "copy", T0 + DAY + 10 * MIN, ...lines);
    expect(again.audit).toEqual([]);
    expect(book.outstanding(T0 + DAY + 10 * MIN)).toHaveLength(1);
  });

  it("an entry older than a start that did not re-list it is a borrow that ended before: not added", () => {
    const book = new BorrowBook();
    feed(book, "a", T0 + 2 * DAY, header(10), started(T0 + DAY), access(T0 + DAY + 5 * MIN));
    feed(book, "old", T0 + 2 * DAY, header(10), borrow(T0, "3-7000001-10-5", 10, T0 + 30 * DAY));
    expect(book.outstanding(T0 + 2 * DAY)).toEqual([]);
  });

  it("the same borrow id re-listed with another expiry: the old borrow was returned and the slot borrowed again", () => {
    const book = new BorrowBook();
    feed(book, "a", T0 + DAY, header(10), borrow(T0, "3-7000001-10-0", 10, T0 + 30 * DAY));
    const changes = feed(
      book,
      "a",
      T0 + 3 * DAY,
      borrow(T0 + DAY, "3-7000001-10-0", 10, T0 + 31 * DAY),
      started(T0 + 2 * DAY),
      borrow(T0 + 2 * DAY, "3-7000001-10-0", 10, T0 + 31 * DAY),
      access(T0 + 2 * DAY + MIN),
    );
    expect(book.outstanding(T0 + 3 * DAY).map((b) => b.expiresAt)).toEqual([T0 + 31 * DAY]);
    expect(changes.audit.find((a) => a.kind === "codemeter-borrow-gone")?.details).toMatchObject({
      reason: "replaced",
    });
    expect(book.missing(T0 + 3 * DAY)).toEqual([]);
  });

  it("a start in one firm code's file judges only that firm code's borrows", () => {
    const book = new BorrowBook();
    feed(book, "fc10", T0, header(10), borrow(T0, "3-7000001-10-0", 10, T0 + 30 * DAY));
    feed(book, "fc20", T0, header(20), borrow(T0, "3-7000001-20-0", 20, T0 + 30 * DAY));
    feed(book, "fc10", T0 + DAY, started(T0 + DAY), access(T0 + DAY + MIN));
    expect(book.missing(T0 + DAY).map((b) => b.borrowId)).toEqual(["3-7000001-10-0"]);
    expect(book.outstanding(T0 + DAY).map((b) => b.borrowId)).toEqual(["3-7000001-20-0"]);
  });

  it("the re-listing ends with the first Access after the start, or at the grace once the file is read to its end", () => {
    const book = new BorrowBook(undefined, { relistGraceMs: 2 * MIN });
    feed(book, "a", T0, header(10), borrow(T0, "3-7000001-10-0", 10, T0 + 30 * DAY));
    feed(book, "a", T0 + DAY, started(T0 + DAY));
    expect(book.relistOpen()).toHaveLength(1);
    book.apply({ type: "tick", now: T0 + DAY + MIN });
    expect(book.missing(T0 + DAY + MIN)).toEqual([]);
    book.apply({ type: "tick", now: T0 + DAY + 3 * MIN });
    expect(book.relistOpen()).toEqual([]);
    const [missing] = book.missing(T0 + DAY + 3 * MIN);
    // Seen at borrow time with a 30-day period: the dummy lasts that long from the start that lost it.
    expect(missing).toMatchObject({ status: "missing", missingSince: T0 + DAY, dummyUntil: T0 + DAY + 30 * DAY });
    // A later start that re-lists it brings it back.
    feed(book, "a", T0 + 2 * DAY, started(T0 + 2 * DAY), borrow(T0 + 2 * DAY, "3-7000001-10-0", 10, T0 + 30 * DAY));
    expect(book.outstanding(T0 + 2 * DAY)).toHaveLength(1);
  });

  it("a re-listing still open when keybridge stopped is judged once the log is read to its end after the restart", () => {
    const before = new BorrowBook(undefined, { relistGraceMs: 2 * MIN });
    feed(before, "a", T0, header(10), borrow(T0, "3-7000001-10-0", 10, T0 + 30 * DAY));
    feed(before, "a", T0 + DAY, started(T0 + DAY));
    const saved = { borrows: before.allBorrows(), licenses: before.licenses(), facts: before.facts };
    const after = new BorrowBook(JSON.parse(JSON.stringify(saved)), { relistGraceMs: 2 * MIN });
    expect(after.relistOpen()).toHaveLength(1);
    after.apply({ type: "tick", now: T0 + DAY + 10 * MIN });
    expect(after.relistOpen()).toHaveLength(1);
    const status = { dir: "/d", state: "ok", files: 1, findings: [], malformedLines: 0, oversizedLines: 0 } as const;
    after.apply({ type: "tracking", now: T0 + DAY + 10 * MIN, status, caughtUp: true });
    expect(after.relistOpen()).toEqual([]);
    expect(after.missing(T0 + DAY + 10 * MIN).map((b) => b.borrowId)).toEqual(["3-7000001-10-0"]);
  });

  it("a borrow that never expires stays out; preflight then names no end date", () => {
    const book = new BorrowBook();
    feed(book, "a", T0, header(10), borrow(T0, "3-7000001-10-0", 10, null));
    book.apply({ type: "tick", now: T0 + 400 * DAY });
    expect(book.outstanding(T0 + 400 * DAY)).toHaveLength(1);
    const verdict = codeMeterPreflight("move-key", book, T0 + 400 * DAY);
    expect(verdict).toMatchObject({ safe: false, lastEndsAt: null });
    expect(verdict.advice[0]).toContain("never expires");
    expect(buildView(book, T0 + 400 * DAY).borrows[0]?.expiresAt).toBeNull();
  });

  it("preflight for a stick action leaves out borrows of licenses that are not on a stick", () => {
    const book = new BorrowBook();
    feed(
      book,
      "a",
      T0,
      header(10),
      `${ts(T0)} Borrow Server:"s", LicenseID:130-1234567-10-1, BorrowID:3-7000001-10-0, Client:"c", User:"u", Expires:${ts(T0 + DAY)}, BorrowSn:3-7000001`,
    );
    expect(codeMeterPreflight("unplug-key", book, T0).safe).toBe(true);
    expect(codeMeterPreflight("change-ip", book, T0).safe).toBe(false);
  });
});
