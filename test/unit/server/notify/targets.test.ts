import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BRIDGE_EVENT_TYPES } from "../../../../src/bridge/api.js";
import { shownWebhookUrl } from "../../../../src/config/index.js";
import { DEFAULT_WEBHOOK_EVENTS, resolveWebhooks } from "../../../../src/server/notify/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kb-notify-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("resolveWebhooks", () => {
  it("names a webhook after its host, sends the default events as JSON, unsigned", () => {
    const [hook] = resolveWebhooks([{ url: "https://hooks.example.com/services/T0/B0/XYZ" }]);
    expect(hook).toMatchObject({ name: "hooks.example.com", format: "json", shownUrl: "https://hooks.example.com/…" });
    expect([...(hook?.events ?? [])]).toEqual([...DEFAULT_WEBHOOK_EVENTS]);
    expect(hook?.secret).toBeUndefined();
  });

  it("expands risk.* and * against the bridge's event types", () => {
    const [risks, all] = resolveWebhooks([
      { url: "http://a.example/", name: "risks", events: ["risk.*", "borrow.dummy"] },
      { url: "http://b.example/", name: "all", events: ["*"] },
    ]);
    expect([...(risks?.events ?? [])].sort()).toEqual(["borrow.dummy", "risk.cleared", "risk.raised"]);
    expect([...(all?.events ?? [])].sort()).toEqual([...BRIDGE_EVENT_TYPES].sort());
  });

  it("refuses an event or pattern that matches nothing, naming the webhook and the event", () => {
    for (const event of ["risk.rasied", "lease.*"]) {
      expect(() => resolveWebhooks([{ url: "http://a.example/", name: "ops", events: [event] }])).toThrow(
        expect.objectContaining({ code: "NOTIFY_SETUP_FAILED", message: expect.stringContaining(`'${event}'`) }),
      );
    }
  });

  it("refuses two webhooks with the same name, also when the name comes from the host", () => {
    expect(() => resolveWebhooks([{ url: "http://a.example/one" }, { url: "http://a.example/two" }])).toThrow(
      expect.objectContaining({ code: "NOTIFY_SETUP_FAILED", message: expect.stringContaining("'a.example'") }),
    );
  });

  it("reads the secret from its file; a missing, empty or short secret is refused with the file named", () => {
    const good = join(dir, "good");
    writeFileSync(good, "0123456789abcdef0123\n");
    const [hook] = resolveWebhooks([{ url: "http://a.example/", secretFile: good }]);
    expect(hook?.secret?.toString()).toBe("0123456789abcdef0123");
    const short = join(dir, "short");
    writeFileSync(short, "abc");
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    for (const file of [join(dir, "missing"), short, empty]) {
      expect(() => resolveWebhooks([{ url: "http://a.example/", secretFile: file }])).toThrow(
        expect.objectContaining({ code: "NOTIFY_SETUP_FAILED", message: expect.stringContaining(file) }),
      );
    }
  });
});

describe("holdMs", () => {
  it("takes milliseconds or a duration, 0 by default, and refuses more than an hour or a bad duration", () => {
    const [none, ms, text] = resolveWebhooks([
      { url: "http://a.example/", name: "a" },
      { url: "http://b.example/", name: "b", holdMs: 1500 },
      { url: "http://c.example/", name: "c", holdMs: "30s" },
    ]);
    expect([none?.holdMs, ms?.holdMs, text?.holdMs]).toEqual([0, 1500, 30_000]);
    for (const holdMs of ["2h", "soon"]) {
      expect(() => resolveWebhooks([{ url: "http://a.example/", name: "a", holdMs }])).toThrow(
        expect.objectContaining({ code: "NOTIFY_SETUP_FAILED", message: expect.stringContaining("holdMs") }),
      );
    }
  });
});

describe("shownWebhookUrl", () => {
  it("never shows a path segment or query of the URL, only scheme and host", () => {
    fc.assert(
      fc.property(
        fc.webUrl({ withQueryParameters: true, withFragments: false }),
        fc.stringMatching(/^[A-Za-z0-9]{12,24}$/),
        (base, secret) => {
          const url = `${base.replace(/\/$/, "")}/${secret}?token=${secret}`;
          const shown = shownWebhookUrl(url);
          expect(shown).not.toContain(secret);
          expect(shown).toBe(`${new URL(url).protocol}//${new URL(url).host}/…`);
        },
      ),
    );
  });

  it("shows a bare origin as it is", () => {
    expect(shownWebhookUrl("http://127.0.0.1:9000")).toBe("http://127.0.0.1:9000/");
  });
});
