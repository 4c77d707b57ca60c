// The daemon in real mode (not --virtual) on the kernel's USB/HID stack: it finds the key through
// node-hid and usb, serves a borrow through the HTTP API, raises the key-unplugged risk when the
// gadget is unplugged and clears it on replug, returns the borrow, and exits 0 on SIGTERM.
// Skipped (not failed) when the build has no daemon.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { CheckFailed, CheckSkipped } from "../lib/context.mjs";

const MAIN = "/kb/dist/src/cli/main.js";
const BRIDGE = "/kb/dist/src/bridge/index.js";
const DATA_DIR = "/tmp/kb";
const LISTEN = "127.0.0.1:22380";
const BASE = `http://${LISTEN}`;
const OUTPUT_LINES = 30;

export default {
  name: "daemon-real-mode",
  timeoutMs: 420_000,
  async run(ctx) {
    const missing = [MAIN, BRIDGE].filter((path) => !existsSync(path));
    if (missing.length > 0) throw new CheckSkipped(`the build has no daemon yet (${missing.join(", ")} missing)`);
    await ctx.ensureKey();
    const { serial } = ctx.config;
    const output = [];
    const daemon = spawn(process.execPath, [MAIN, "serve", "--data-dir", DATA_DIR, "--listen", LISTEN], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [daemon.stdout, daemon.stderr]) {
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => {
        output.push(...chunk.split("\n").filter(Boolean));
        output.splice(0, Math.max(0, output.length - OUTPUT_LINES));
      });
    }
    const exited = new Promise((resolve) => daemon.on("exit", (code, signal) => resolve({ code, signal })));
    const detail = { steps: [] };
    const step = (name) => detail.steps.push(`${name} +${Math.round(performance.now() - started)} ms`);
    const started = performance.now();
    const alive = () => {
      if (daemon.exitCode !== null) throw new CheckFailed(`the daemon exited with ${daemon.exitCode}`, { output });
    };
    try {
      await ctx.waitFor(
        "GET /v1/health",
        async () => {
          alive();
          return (await request("GET", "/v1/health")).ok;
        },
        // The daemon needs 30–40 s to start under TCG on an idle machine, several times that on a busy one.
        300_000,
      );
      step("healthy");
      const token = readFileSync(`${DATA_DIR}/api-token`, "utf8").trim();
      const api = async (method, path, body) => {
        const response = await request(method, path, body, token);
        if (!response.ok && response.status !== 201) {
          throw new CheckFailed(`${method} ${path} answered ${response.status}`, { body: response.body, output });
        }
        return response;
      };

      const listed = await ctx.waitFor(
        "GET /v1/keys to list the key as present",
        async () => (await api("GET", "/v1/keys")).body.find((k) => k.serial === serial && k.present),
        30_000,
      );
      step("key listed");
      const license = listed.licenses.find((l) => l.dummies === 0 && l.borrowable > l.borrowed);
      if (!license) throw new CheckFailed("the key lists no borrowable product", { key: listed });
      const borrow = await api("POST", "/v1/borrows", { product: license.product, client: "vm-daemon" });
      if (borrow.status !== 201)
        throw new CheckFailed(`POST /v1/borrows answered ${borrow.status}`, { body: borrow.body });
      detail.borrow = {
        id: borrow.body.id,
        serial: borrow.body.serial,
        product: borrow.body.product,
        state: borrow.body.state,
      };
      step("borrowed");

      const unplugged = (risks) => risks.find((r) => r.kind === "key-unplugged");
      ctx.unplug();
      const risk = await ctx.waitFor(
        "GET /v1/risks to show key-unplugged",
        async () => unplugged((await api("GET", "/v1/risks")).body),
        30_000,
      );
      detail.risk = { kind: risk.kind, severity: risk.severity, message: risk.message };
      step("key-unplugged raised");
      ctx.replug();
      await ctx.waitFor("key-unplugged to clear", async () => !unplugged((await api("GET", "/v1/risks")).body), 30_000);
      step("key-unplugged cleared");
      await ctx.waitFor(
        "the key to be present again",
        async () => (await api("GET", "/v1/keys")).body.find((k) => k.serial === serial && k.present),
        30_000,
      );
      const returned = await api("DELETE", `/v1/borrows/${detail.borrow.id}`);
      detail.returned = returned.body.outcome;
      step("returned");
    } catch (error) {
      if (error instanceof CheckFailed) error.detail = { ...detail, ...error.detail, output };
      throw error;
    } finally {
      if (daemon.exitCode === null) daemon.kill("SIGTERM");
      const timer = setTimeout(() => daemon.kill("SIGKILL"), 20_000);
      detail.exit = await exited;
      clearTimeout(timer);
    }
    step("stopped");
    if (detail.exit.code !== 0) {
      throw new CheckFailed(`the daemon exited with ${detail.exit.code ?? detail.exit.signal} on SIGTERM`, {
        ...detail,
        output,
      });
    }
    return detail;
  },
};

async function request(method, path, body, token) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  try {
    const response = await fetch(`${BASE}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (an error page): kept as text for the report.
    }
    return { ok: response.ok, status: response.status, body: parsed };
  } catch (error) {
    return { ok: false, status: 0, body: String(error.cause ?? error) };
  }
}
