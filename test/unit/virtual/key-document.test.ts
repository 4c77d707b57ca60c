import { describe, expect, it } from "vitest";
import { createKeyState, type StoredBorrow, toDocument } from "../../../native-mocks/firmware/key-state.js";

function record(id: number): StoredBorrow {
  return {
    id,
    opId: new Uint8Array(16).fill(id),
    product: 7,
    client: `c${id}`,
    issuedAt: 1_000,
    expiresAt: 2_000,
    binding: new Uint8Array(32).fill(1),
    tag: new Uint8Array(16).fill(2),
    borrowDays: 30,
    state: "active",
  };
}

describe("key state document", () => {
  it("follows every change of a record between saves, although unchanged records are converted once", () => {
    const state = createKeyState({ serial: "DOC-1" });
    const first = record(1);
    state.borrows.set(1, first);
    state.borrows.set(2, record(2));
    const before = toDocument(state);
    expect(before.borrows[0]?.binding).toBe("01".repeat(32));

    first.binding = new Uint8Array(32).fill(9);
    first.state = "dummy";
    first.dummyUntil = 5_000;
    state.journal.set("ab".repeat(16), { kind: "rebind", status: 0 });
    const after = toDocument(state);

    expect(after.borrows[0]).toMatchObject({ binding: "09".repeat(32), state: "dummy", dummyUntil: 5_000 });
    expect(after.borrows[1]).toBe(before.borrows[1]);
    expect(after.journal).toEqual([{ opId: "ab".repeat(16), kind: "rebind", status: 0 }]);
    // The earlier document is not changed by the later save (a store may still hold it).
    expect(before.borrows[0]).toMatchObject({ binding: "01".repeat(32), state: "active" });
    expect(before.borrows[0]).not.toHaveProperty("dummyUntil");
  });
});
