import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BridgeEvent, RiskView } from "../../../../src/bridge/api.js";
import { eventText, renderDelivery, signatureHeader } from "../../../../src/server/notify/index.js";

const risk: RiskView = {
  kind: "key-unplugged",
  source: "keybridge",
  severity: "critical",
  message: "Key KB-1 is not attached while 1 borrow on it is outstanding.",
  advice: "Plug the key back in before the borrow is returned.",
  since: "2026-11-28T10:00:00.000Z",
  serial: "KB-1",
  borrowIds: [7],
};
const raised: BridgeEvent = {
  type: "risk.raised",
  seq: 12,
  at: "2026-11-28T10:00:00.000Z",
  message: risk.message,
  serial: "KB-1",
  risk,
};
const source = { host: "licsrv01", runId: "ab12cd34", version: "1.2.3" };

describe("renderDelivery", () => {
  it("json: the event with an id a receiver can deduplicate on, the host and the version", () => {
    const delivery = renderDelivery(raised, { format: "json" }, source);
    expect(delivery.id).toBe("ab12cd34-12");
    expect(JSON.parse(delivery.body)).toEqual({ id: "ab12cd34-12", host: "licsrv01", keybridge: "1.2.3", ...raised });
    expect(delivery.contentType).toBe("application/json");
  });

  it("text: one line with the host, severity, kind, what happened and what to do", () => {
    const body = JSON.parse(renderDelivery(raised, { format: "text" }, source).body) as { text: string };
    expect(Object.keys(body)).toEqual(["text"]);
    expect(body.text).toBe(`keybridge on licsrv01: CRITICAL key-unplugged: ${risk.message} What to do: ${risk.advice}`);
    const cleared = eventText({ ...raised, type: "risk.cleared", message: "resolved: key back" }, "licsrv01");
    expect(cleared).toBe("keybridge on licsrv01: RESOLVED key-unplugged: resolved: key back");
    const dummy = eventText({ type: "borrow.dummy", at: raised.at, message: "borrow 3 became a dummy" }, "h");
    expect(dummy).toBe("keybridge on h: borrow.dummy: borrow 3 became a dummy");
  });

  it("a CodeMeter risk: the JSON carries its source and borrow ids, the text line names CodeMeter", () => {
    const codemeter: RiskView = {
      ...risk,
      source: "codemeter",
      serial: "3-6903986",
      borrowIds: undefined,
      codeMeterBorrowIds: ["130-1000001-100532-0"],
    };
    const event: BridgeEvent = { ...raised, risk: codemeter, serial: "3-6903986" };
    const json = JSON.parse(renderDelivery(event, { format: "json" }, source).body) as { risk: RiskView };
    expect(json.risk.source).toBe("codemeter");
    expect(json.risk.codeMeterBorrowIds).toEqual(["130-1000001-100532-0"]);
    const text = eventText(event, "licsrv01");
    expect(text).toBe(
      `keybridge on licsrv01: CRITICAL CodeMeter key-unplugged: ${risk.message} What to do: ${risk.advice}`,
    );
    const cleared = eventText({ ...event, type: "risk.cleared", message: "resolved: stick back" }, "licsrv01");
    expect(cleared).toBe("keybridge on licsrv01: RESOLVED CodeMeter key-unplugged: resolved: stick back");
  });
});

describe("signatureHeader", () => {
  it("is t=<seconds>,v1=HMAC-SHA256(secret, '<t>.<body>') — checked with an independent HMAC", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.string(),
        fc.nat(4_000_000_000),
        (key, body, t) => {
          const secret = Buffer.from(key);
          const header = signatureHeader(secret, body, t);
          const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
          expect(match?.[1]).toBe(String(t));
          const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
          expect(match?.[2]).toBe(expected);
        },
      ),
    );
  });

  it("changes when the body, the time or the secret changes", () => {
    const secret = Buffer.from("0123456789abcdef");
    const base = signatureHeader(secret, "{}", 100);
    expect(signatureHeader(secret, "{ }", 100)).not.toBe(base);
    expect(signatureHeader(secret, "{}", 101).split(",v1=")[1]).not.toBe(base.split(",v1=")[1]);
    expect(signatureHeader(Buffer.from("0123456789abcdeg"), "{}", 100)).not.toBe(base);
  });
});

describe("the receiver's check in docs/notify.md", () => {
  it("accepts what signatureHeader signs, and refuses a changed body, another secret or an old time", async () => {
    const { readFileSync } = await import("node:fs");
    const { createHmac: hmac, timingSafeEqual } = await import("node:crypto");
    const doc = readFileSync(new URL("../../../../docs/notify.md", import.meta.url), "utf8");
    const code = /```js\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    expect(code).toContain("function verified");
    const source = `${code.replace(/^import .*$/m, "")}\nreturn verified;`;
    const verified = new Function("createHmac", "timingSafeEqual", source)(hmac, timingSafeEqual) as (
      body: string,
      header: string,
      secret: string,
    ) => boolean;
    const secret = "0123456789abcdef0123456789abcdef";
    const body = JSON.stringify({ type: "risk.raised" });
    const now = Math.floor(Date.now() / 1000);
    const header = signatureHeader(Buffer.from(secret), body, now);
    expect(verified(body, header, secret)).toBe(true);
    expect(verified(`${body} `, header, secret)).toBe(false);
    expect(verified(body, header, `${secret}x`)).toBe(false);
    expect(verified(body, signatureHeader(Buffer.from(secret), body, now - 3600), secret)).toBe(false);
  });
});
