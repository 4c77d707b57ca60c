import { afterAll, afterEach } from "vitest";

/**
 * Every promise the code under test creates must be awaited or handled: a rejection nobody waits
 * for ends a daemon (Node's default), so here it fails the test during which it surfaced, naming it.
 * One listener per worker process (it runs many test files), kept on globalThis.
 */
const KEY = Symbol.for("keybridge.test.unhandledRejections");
const holder = globalThis as { [KEY]?: unknown[] };

function collected(): unknown[] {
  if (holder[KEY] === undefined) {
    const list: unknown[] = [];
    holder[KEY] = list;
    process.on("unhandledRejection", (reason) => {
      list.push(reason);
    });
  }
  return holder[KEY];
}

collected();

function failOnUnhandled(): void {
  const reasons = collected().splice(0);
  if (reasons.length === 0) return;
  const texts = reasons.map((reason) => (reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)));
  throw new Error(`${texts.length} unhandled promise rejection(s):\n${texts.join("\n")}`);
}

afterEach(failOnUnhandled);
afterAll(failOnUnhandled);
