import { Subject } from "rxjs";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { KeyExchangeView } from "../../../src/bridge/api.js";
import { type Harness, overriding, startHarness } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const scrape = async () => {
  const response = await h.api("/metrics", { token: null });
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  return response.text();
};

it("exposes seats, borrows, dummies with clear dates, risks, operations and default process metrics, all prefixed", async () => {
  const created = (await (
    await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "a" } })
  ).json()) as { id: number };
  await h.api("/v1/borrows", { method: "POST", json: { product: 1002, client: "b" } });
  await h.api("/v1/borrows", { method: "POST", json: { product: 1002, client: "c" } });
  await h.api("/v1/borrows", { method: "POST", json: { product: 1002, client: "d" } }); // refused: 409
  let text = await scrape();
  expect(text).toMatch(/^keybridge_keys_present 1$/m);
  expect(text).toMatch(/^keybridge_license_seats\{serial="KB-0001",product="1001"\} 10$/m);
  expect(text).toMatch(/^keybridge_license_borrowable\{serial="KB-0001",product="1002"\} 2$/m);
  expect(text).toMatch(/^keybridge_license_borrowed\{serial="KB-0001",product="1002"\} 2$/m);
  expect(text).toMatch(/^keybridge_borrows_outstanding\{state="active"\} 3$/m);
  expect(text).toMatch(/^keybridge_operations_total\{op="borrow",outcome="ok"\} 3$/m);
  expect(text).toMatch(/^keybridge_operations_total\{op="borrow",outcome="refused"\} 1$/m);
  expect(text).toMatch(/^keybridge_operation_seconds_count\{op="borrow"\} 4$/m);
  expect(text).toMatch(/^keybridge_process_cpu_seconds_total /m);
  expect(text).toMatch(/^keybridge_events_total\{type="borrow.created"\} 3$/m);
  expect(
    text
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .every((l) => l.startsWith("keybridge_")),
  ).toBe(true);

  const licenses = [{ product: 1001, seats: 10, borrowable: 4, borrowDays: 30 }];
  await h.api("/v1/keys/KB-0001/license-update", { method: "POST", json: { licenses, force: true } });
  await h.api("/v1/virtual/keys/KB-0001/unplug", { method: "POST" });
  text = await scrape();
  expect(text).toMatch(/^keybridge_dummies 3$/m);
  expect(text).toMatch(/^keybridge_license_dummies\{serial="KB-0001",product="1001"\} 1$/m);
  expect(text).not.toMatch(/keybridge_license_seats\{serial="KB-0001",product="1002"\}/);
  const clear = new RegExp(
    `^keybridge_dummy_clear_timestamp_seconds\\{serial="KB-0001",product="1001",borrow="${created.id}"\\} (\\d+(\\.\\d+)?)$`,
    "m",
  ).exec(text);
  expect(Number(clear?.[1]) * 1000).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  expect(text).toMatch(/^keybridge_keys_present 0$/m);
});

it("counts risks by kind", async () => {
  await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "a" } });
  await h.api("/v1/virtual/keys/KB-0001/unplug", { method: "POST" });
  expect(await scrape()).toMatch(
    /^keybridge_risks_open\{kind="key-unplugged",severity="critical",source="keybridge"\} 1$/m,
  );
});

it("times each key exchange by command and outcome, and the wait behind other requests", async () => {
  // Samples the test chooses (a timed-out exchange among them): the server sees them as the bridge's.
  const exchanges = new Subject<KeyExchangeView>();
  await h.close();
  h = await startHarness({ serve: (bridge) => overriding(bridge, { keyExchanges$: exchanges }) });
  exchanges.next({
    serial: "KB-0001",
    command: "BORROW",
    seconds: 0.004,
    waitedSeconds: 0,
    outcome: "answered",
  });
  exchanges.next({
    serial: "KB-0001",
    command: "BORROW",
    seconds: 0.003,
    waitedSeconds: 0.02,
    outcome: "answered",
    code: "NO_BORROWABLE",
  });
  exchanges.next({
    command: "GET_INFO",
    seconds: 5,
    waitedSeconds: 0,
    outcome: "failed",
    code: "TRANSPORT_TIMEOUT",
  });
  const text = await scrape();
  expect(text).toMatch(/^keybridge_key_exchange_seconds_count\{command="BORROW",outcome="answered"\} 2$/m);
  expect(text).toMatch(/^keybridge_key_exchange_seconds_bucket\{le="0.005",command="BORROW",outcome="answered"\} 2$/m);
  expect(text).toMatch(/^keybridge_key_exchange_seconds_count\{command="GET_INFO",outcome="failed"\} 1$/m);
  expect(text).toMatch(/^keybridge_key_exchange_wait_seconds_bucket\{le="0"\} 2$/m);
  expect(text).toMatch(/^keybridge_key_exchange_wait_seconds_count 3$/m);
});

it("says when the ledger was last exported: 0 until the first export, then its Unix time", async () => {
  expect(await scrape()).toMatch(/^keybridge_ledger_last_export_timestamp_seconds 0$/m);
  const before = Date.now() / 1000;
  expect((await h.api("/v1/ledger/export")).status).toBe(200);
  const value = Number(/^keybridge_ledger_last_export_timestamp_seconds (\S+)$/m.exec(await scrape())?.[1]);
  expect(value).toBeGreaterThanOrEqual(Math.floor(before));
  expect(value).toBeLessThanOrEqual(Date.now() / 1000 + 1);
});
