import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { KeyClient } from "../../src/key/key-client.js";
import type { BorrowRecord, LicenseUsage } from "../../src/protocol/types.js";

export const DAY_MS = 86_400_000;
export const CLIENT = "conformance";

export const random = (size: number): Uint8Array => Uint8Array.from(randomBytes(size));

/** What the server keeps to return a borrow: binding and tag. */
export interface HeldBorrow {
  readonly record: BorrowRecord;
  readonly binding: Uint8Array;
  readonly tag: Uint8Array;
}

/** A product with a free borrowable seat and no dummy (a dummy would block K1). */
export async function borrowableProduct(client: KeyClient, seatsNeeded = 1): Promise<LicenseUsage> {
  const licenses = await client.listLicenses();
  const license = licenses.find(
    (candidate) => candidate.dummies === 0 && candidate.borrowable - candidate.borrowed >= seatsNeeded,
  );
  assert.ok(
    license,
    `the key needs a product with ${seatsNeeded} free borrowable seat(s) and no dummy; it has ${JSON.stringify(licenses)}`,
  );
  return license;
}

export async function borrowOne(client: KeyClient, product: number, days = 1): Promise<HeldBorrow> {
  const binding = random(32);
  const tag = random(16);
  const record = await client.borrow({ opId: random(16), product, days, binding, tag, client: CLIENT });
  return { record, binding, tag };
}

/** Returns a borrow the proper way (K3 with matching binding and tag). */
export async function settleHeld(client: KeyClient, held: HeldBorrow): Promise<void> {
  const result = await client.settle({ opId: random(16), id: held.record.id, binding: held.binding, tag: held.tag });
  assert.equal(result.outcome, "settled");
}

export async function licenseOf(client: KeyClient, product: number): Promise<LicenseUsage> {
  const license = (await client.listLicenses()).find((candidate) => candidate.product === product);
  assert.ok(license, `product ${product} disappeared from the key`);
  return license;
}

export async function recordOf(client: KeyClient, id: number): Promise<BorrowRecord | undefined> {
  return (await client.listAllBorrows()).find((record) => record.id === id);
}

/** Expects `promise` to reject with an error carrying `code`; returns the error. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (error) {
    assert.equal((error as { code?: unknown }).code, code, `expected ${code}, got ${String(error)}`);
    return error as Error & { code: string };
  }
  assert.fail(`expected a rejection with ${code}, but the call succeeded`);
}

/** Moves the key clock past every dummy of `product` so K5 clears them (virtual keys only). */
export async function clearDummies(
  client: KeyClient,
  advanceClock: (ms: number) => void | Promise<void>,
): Promise<void> {
  const records = await client.listAllBorrows();
  const latest = Math.max(0, ...records.filter((r) => r.state === "dummy").map((r) => r.dummyUntil ?? 0));
  if (latest === 0) return;
  const { keyTimeMs } = await client.getTime();
  if (latest >= keyTimeMs) await advanceClock(latest - keyTimeMs + 1_000);
}
