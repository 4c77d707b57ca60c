import { Observable } from "rxjs";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { BridgeEvent } from "../../../src/bridge/api.js";
import { type Harness, overriding, startHarness, TOKEN } from "./helpers.js";

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ heartbeatMs: 40 });
});
afterEach(async () => {
  await h.close();
});

/** Reads the stream until `until` holds for the text so far. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  until: (text: string) => boolean,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  while (!until(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

const waitFor = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return check();
};

it("sends the open risks first, then each bridge event as `event: type / data: json`, and heartbeats", async () => {
  await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws" } });
  await h.api("/v1/virtual/keys/KB-0001/unplug", { method: "POST" });
  const controller = new AbortController();
  const response = await fetch(`${h.url}/v1/events?token=${encodeURIComponent(TOKEN)}`, { signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const reader = response.body!.getReader();
  const first = await readUntil(reader, (t) => t.includes("\n\nevent: risk.raised\ndata: ") && t.endsWith("\n\n"));
  const data = /event: risk\.raised\ndata: (.*)\n\n/.exec(first)?.[1];
  expect(JSON.parse(data!)).toMatchObject({
    type: "risk.raised",
    risk: { kind: "key-unplugged" },
    details: { open: true },
  });

  await h.api("/v1/virtual/keys/KB-0001/plug", { method: "POST" });
  const next = await readUntil(reader, (t) => t.includes("event: risk.cleared\n"));
  expect(next).toMatch(/event: key\.attached\ndata: \{"type":"key\.attached"/);
  const beat = await readUntil(reader, (t) => t.includes(": heartbeat\n\n"));
  expect(beat).toContain(": heartbeat\n\n");
  controller.abort();
});

it("accepts the bearer header too, and refuses a wrong query token", async () => {
  expect((await fetch(`${h.url}/v1/events?token=nope`)).status).toBe(401);
  const controller = new AbortController();
  const response = await h.api("/v1/events", { signal: controller.signal });
  expect(response.status).toBe(200);
  controller.abort();
});

it("releases the subscription and the heartbeat timer when the client goes away", async () => {
  // The bridge's event stream, counting who listens.
  let listeners = 0;
  await h.close();
  h = await startHarness({
    heartbeatMs: 40,
    serve: (bridge) =>
      overriding(bridge, {
        events$: new Observable<BridgeEvent>((subscriber) => {
          listeners++;
          const subscription = bridge.events$.subscribe(subscriber);
          return () => {
            listeners--;
            subscription.unsubscribe();
          };
        }),
      }),
  });
  const observersBefore = listeners;
  const controller = new AbortController();
  const response = await h.api("/v1/events", { signal: controller.signal });
  const reader = response.body!.getReader();
  await readUntil(reader, (t) => t.includes("keybridge events"));
  expect(listeners).toBe(observersBefore + 1);
  expect(await (await h.api("/metrics")).text()).toMatch(/^keybridge_sse_clients 1$/m);
  controller.abort();
  expect(await waitFor(() => listeners === observersBefore)).toBe(true);
  expect(await (await h.api("/metrics")).text()).toMatch(/^keybridge_sse_clients 0$/m);
});

it("closing the server ends open streams instead of hanging", async () => {
  const response = await h.api("/v1/events");
  const reader = response.body!.getReader();
  await readUntil(reader, (t) => t.includes("keybridge events"));
  await h.server.close();
  const rest = await readUntil(reader, () => false);
  expect(typeof rest).toBe("string");
});

/** Splits an SSE text into its frames (those with data), with their id and type. */
function frames(text: string): { id?: string; type: string; data: { seq?: number; type: string } }[] {
  return text
    .split("\n\n")
    .map((block) => {
      const id = /^id: (.*)$/m.exec(block)?.[1];
      const type = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      return type === undefined || data === undefined
        ? undefined
        : { ...(id === undefined ? {} : { id }), type, data: JSON.parse(data) as { seq?: number; type: string } };
    })
    .filter((frame) => frame !== undefined);
}

it("numbers each event; a reader reconnecting with Last-Event-ID first gets what it missed, then the state", async () => {
  const controller = new AbortController();
  const first = await h.api("/v1/events", { signal: controller.signal });
  const reader = first.body!.getReader();
  await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws-1" } });
  const seen = frames(await readUntil(reader, (t) => t.includes("event: borrow.created")));
  const lastId = seen.at(-1)!.id!;
  expect(lastId).toMatch(/^[0-9a-f]+-[0-9]+$/);
  expect(Number(lastId.split("-")[1])).toBe(seen.at(-1)!.data.seq);
  controller.abort();

  // Away: these happen while nobody listens.
  await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws-2" } });
  await h.api("/v1/virtual/keys/KB-0001/unplug", { method: "POST" });

  const again = new AbortController();
  const response = await fetch(`${h.url}/v1/events?token=${encodeURIComponent(TOKEN)}`, {
    signal: again.signal,
    headers: { "last-event-id": lastId },
  });
  const text = await readUntil(response.body!.getReader(), (t) => /details":\{"open":true\}\}\n\n/.test(t));
  again.abort();
  const replay = frames(text);
  const replayed = replay.filter((frame) => frame.id !== undefined);
  expect(replayed[0]!.data).toMatchObject({ type: "borrow.created", seq: seen.at(-1)!.data.seq! + 1 });
  expect(replayed.map((frame) => frame.type)).toContain("key.detached");
  // The replay comes before the snapshot of open risks (the state now), which carries no id.
  const snapshotAt = replay.findIndex((frame) => frame.id === undefined);
  expect(snapshotAt).toBe(replayed.length);
  expect(replay[snapshotAt]!.type).toBe("risk.raised");
});

it("a Last-Event-ID of an earlier daemon run replays everything this run kept", async () => {
  await h.api("/v1/borrows", { method: "POST", json: { product: 1001, client: "ws-1" } });
  const controller = new AbortController();
  const response = await fetch(`${h.url}/v1/events?token=${encodeURIComponent(TOKEN)}`, {
    signal: controller.signal,
    headers: { "last-event-id": "00000000-99" },
  });
  const text = await readUntil(response.body!.getReader(), (t) => t.includes("event: borrow.created"));
  controller.abort();
  // From the first event of this run (the key attaching at start), the borrow among them.
  const replayed = frames(text).filter((frame) => frame.id !== undefined);
  expect(replayed[0]?.data.seq).toBe(1);
  expect(replayed.map((frame) => frame.type)).toContain("borrow.created");
});

it("replays at most the newest 200 missed events, and says that older ones were left out", async () => {
  for (let i = 0; i < 130; i++) {
    await h.api("/v1/virtual/keys/KB-0001/unplug", { method: "POST" });
    await h.api("/v1/virtual/keys/KB-0001/plug", { method: "POST" });
  }
  const { runId, lastSeq } = h.bridge.recentEvents({ limit: 1 });
  expect(lastSeq).toBeGreaterThan(250);
  const controller = new AbortController();
  const response = await fetch(`${h.url}/v1/events?token=${encodeURIComponent(TOKEN)}`, {
    signal: controller.signal,
    headers: { "last-event-id": `${runId}-1` },
  });
  const text = await readUntil(response.body!.getReader(), (t) => t.includes(`id: ${runId}-${lastSeq}\n`));
  controller.abort();
  expect(text).toContain(": some missed events are not replayed");
  const replayed = frames(text).filter((frame) => frame.id !== undefined);
  expect(replayed).toHaveLength(200);
  expect(replayed[0]!.data.seq).toBe(lastSeq - 199);
});
