import { afterEach, beforeEach, expect, it } from "vitest";
import { type Harness, startHarness, TOKEN } from "./helpers.js";

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
  const observersBefore = h.bridge.events$.observers.length;
  const controller = new AbortController();
  const response = await h.api("/v1/events", { signal: controller.signal });
  const reader = response.body!.getReader();
  await readUntil(reader, (t) => t.includes("keybridge events"));
  expect(h.bridge.events$.observers.length).toBe(observersBefore + 1);
  expect(await (await h.api("/metrics")).text()).toMatch(/^keybridge_sse_clients 1$/m);
  controller.abort();
  expect(await waitFor(() => h.bridge.events$.observers.length === observersBefore)).toBe(true);
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
