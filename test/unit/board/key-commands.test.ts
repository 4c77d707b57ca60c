/**
 * `keybridge key ...` off a board: the state in a temp directory, configfs and /sys/class/udc as
 * plain directories. What only a kernel can show (binding, enumeration, teardown of a live
 * gadget, serving /dev/hidg0) runs in the QEMU guest (docs/vm.md).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { serveKey } from "../../../native-mocks/board/index.js";
import { describeNeeding, Requirement } from "../../support/require-tool.js";
import { runCli } from "../cli/cli-harness.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function board() {
  const root = mkdtempSync(join(tmpdir(), "kb-board-"));
  dirs.push(root);
  const udcDir = join(root, "udc");
  mkdirSync(join(udcDir, "fe980000.usb"), { recursive: true });
  writeFileSync(join(udcDir, "fe980000.usb", "state"), "configured\n");
  const env = {
    KEYBRIDGE_KEY_STATE: join(root, "var", "key.json"),
    KEYBRIDGE_KEY_GADGET: join(root, "configfs", "keybridge"),
  };
  mkdirSync(join(root, "configfs"));
  return { root, udcDir, env, state: env.KEYBRIDGE_KEY_STATE, gadget: env.KEYBRIDGE_KEY_GADGET };
}

/** The key's identity secret as stored: no output may ever contain it. */
function secretOf(statePath: string): string {
  return JSON.parse(readFileSync(statePath, "utf8")).state.privateKeyPkcs8 as string;
}

describe("keybridge key init and status", () => {
  it("creates the key once, 0600 in a 0700 directory; the same serial again changes nothing, another is refused", async () => {
    const b = board();
    const created = await runCli(["key", "init", "--serial", "KB-0001", "--json"], b.env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.json).toMatchObject({ created: true, serial: "KB-0001", provisioned: false, licenses: [] });
    expect(statSync(b.state).mode & 0o777).toBe(0o600);
    expect(statSync(join(b.root, "var")).mode & 0o777).toBe(0o700);
    const before = readFileSync(b.state, "utf8");

    const again = await runCli(["key", "init", "--serial", "KB-0001"], b.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already holds key KB-0001; nothing changed/);
    expect(readFileSync(b.state, "utf8")).toBe(before);

    const other = await runCli(["key", "init", "--serial", "KB-0002"], b.env);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/already holds key KB-0001.*\[BOARD_KEY_OTHER_SERIAL\]/);
    const bad = await runCli(["key", "init", "--serial", "KB 0002"], b.env);
    expect(bad.stderr).toMatch(/BOARD_KEY_BAD_SERIAL/);
    expect(readFileSync(b.state, "utf8")).toBe(before);
  });

  it("status shows identity, vendor, licenses and gadget, and never the key's secret", async () => {
    const b = board();
    await runCli(["key", "init", "--serial", "KB-0001"], b.env);
    const secret = secretOf(b.state);
    const text = await runCli(["key", "status"], b.env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Key KB-0001 \(firmware 1\.0\.0\)/);
    expect(text.stdout).toMatch(/vendor +not provisioned/);
    expect(text.stdout).toMatch(/gadget +none at/);
    const json = await runCli(["key", "status", "--json"], b.env);
    expect(json.json).toMatchObject({ serial: "KB-0001", provisioned: false, servedBy: null, updateCounter: 0 });
    for (const output of [text.stdout, text.stderr, json.stdout]) expect(output).not.toContain(secret.slice(20, 60));
  });

  it("a command on a board never initialised says how to initialise it", async () => {
    const b = board();
    const status = await runCli(["key", "status"], b.env);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/keybridge key init --serial SERIAL.*\[BOARD_KEY_NOT_INITIALISED\]/);
  });
});

describe("keybridge key setup", () => {
  it("writes the gadget from the protocol constants and the key's state, and binds the board's only controller", async () => {
    const b = board();
    await runCli(["key", "init", "--serial", "KB-0001"], b.env);
    // The CLI resolves controllers in /sys/class/udc; point the board module at the test's directory.
    const { setupGadget } = await import("../../../native-mocks/board/index.js");
    const result = setupGadget({ statePath: b.state, gadgetDir: b.gadget, udcDir: b.udcDir });
    expect(result).toMatchObject({ udc: "fe980000.usb", replaced: false });
    const read = (path: string) => readFileSync(join(b.gadget, path), "utf8");
    expect(read("idVendor")).toBe("0x1209");
    expect(read("idProduct")).toBe("0x0001");
    expect(read("strings/0x409/serialnumber")).toBe("KB-0001");
    expect(read("functions/hid.usb0/report_length")).toBe("64");
    expect(readFileSync(join(b.gadget, "functions/hid.usb0/report_desc")).toString("hex")).toBe(
      "064bff0901a1010902150026ff007508954081020903150026ff00750895409102c0",
    );
    expect(read("UDC").trim()).toBe("fe980000.usb");
  });

  it("names the controller problem: none, several, or one that does not exist", async () => {
    const { resolveUdc } = await import("../../../native-mocks/board/index.js");
    const b = board();
    expect(resolveUdc(undefined, b.udcDir)).toBe("fe980000.usb");
    expect(() => resolveUdc("dummy_udc.0", b.udcDir)).toThrow(/no USB device controller dummy_udc\.0.*fe980000\.usb/);
    mkdirSync(join(b.udcDir, "dummy_udc.0"));
    expect(resolveUdc("dummy_udc.0", b.udcDir)).toBe("dummy_udc.0");
    expect(() => resolveUdc(undefined, b.udcDir)).toThrow(/several USB device controllers.*--udc/);
    expect(() => resolveUdc(undefined, join(b.root, "none"))).toThrow(/dtoverlay=dwc2/);
  });

  it("a kernel without gadget support is named, with what to load", async () => {
    const b = board();
    await runCli(["key", "init", "--serial", "KB-0001"], b.env);
    const setup = await runCli(["key", "setup"], { ...b.env, KEYBRIDGE_KEY_GADGET: join(b.root, "none", "keybridge") });
    expect(setup.code).toBe(1);
    expect(setup.stderr).toMatch(/libcomposite.*\[BOARD_NO_GADGET_SUPPORT\]/);
  });

  it("teardown of a board without a gadget says so", async () => {
    const b = board();
    const result = await runCli(["key", "teardown", "--json"], b.env);
    expect(result.json).toEqual({ gadget: b.gadget, removed: false });
  });
});

describe("one process owns the key", () => {
  it("wipe needs --yes, is refused while the key is served, and takes over the lock of a dead process", async () => {
    const b = board();
    await runCli(["key", "init", "--serial", "KB-0001"], b.env);
    expect((await runCli(["key", "wipe"], b.env)).stderr).toMatch(/--yes.*\[BOARD_KEY_NOT_CONFIRMED\]/);
    writeFileSync(`${b.state}.lock`, `${process.pid}\n`);
    const refused = await runCli(["key", "wipe", "--yes"], b.env);
    expect(refused.stderr).toMatch(new RegExp(`in use by process ${process.pid}.*\\[BOARD_KEY_SERVING\\]`));
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    writeFileSync(`${b.state}.lock`, `${dead.stdout}\n`);
    const wiped = await runCli(["key", "wipe", "--yes", "--json"], b.env);
    expect(wiped.code, wiped.stderr).toBe(0);
    expect(existsSync(`${b.state}.lock`)).toBe(false);
  });

  it("serve holds the lock until stopped and clears temp files a power cut left beside the state", async () => {
    const b = board();
    await runCli(["key", "init", "--serial", "KB-0001"], b.env);
    const leftover = join(b.root, "var", ".key.json.4242.tmp");
    writeFileSync(leftover, "half a save", { mode: 0o600 });
    const node = join(b.root, "hidg0");
    expect(spawnSync("mkfifo", [node]).status).toBe(0);
    const serving = serveKey({ statePath: b.state, device: node });
    try {
      await serving.ready;
      expect(existsSync(leftover)).toBe(false);
      expect(serving.key.serial).toBe("KB-0001");
      expect(() => serveKey({ statePath: b.state, device: node })).toThrow(/in use by process/);
      const status = await runCli(["key", "status", "--json"], b.env);
      expect(status.json).toMatchObject({ servedBy: process.pid });
    } finally {
      serving.stop();
      // The read waiting on the FIFO returns only when something arrives.
      writeFileSync(node, new Uint8Array(64));
    }
    expect((await runCli(["key", "status", "--json"], b.env)).json).toMatchObject({ servedBy: null });
  });
});

const bin = resolve("dist/src/cli/main.js");
describeNeeding(Requirement.build(bin), "keybridge key serve as a process", () => {
  it("says ready, and on SIGTERM stops, releases the key and ends by that signal although a read is blocked", async () => {
    const b = board();
    await runCli(["key", "init", "--serial", "KB-0001"], b.env);
    const node = join(b.root, "hidg0");
    expect(spawnSync("mkfifo", [node]).status).toBe(0);
    const child = spawn(process.execPath, [bin, "key", "serve", "--device", node, "--no-gadget"], {
      env: { ...process.env, ...b.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ready = await new Promise<string>((done) =>
      child.stdout.once("data", (chunk: Buffer) => done(chunk.toString())),
    );
    expect(ready).toBe("ready KB-0001\n");
    expect((await runCli(["key", "status", "--json"], b.env)).json).toMatchObject({ servedBy: child.pid });
    // The read on the node is blocked now (nothing was written): an ordinary exit would wait for it forever.
    const ended = new Promise<{ code: number | null; signal: string | null }>((done) =>
      child.once("exit", (code, signal) => done({ code, signal })),
    );
    child.kill("SIGTERM");
    expect(await ended).toEqual({ code: null, signal: "SIGTERM" });
    expect(stderr).toMatch(/SIGTERM: stopping/);
    expect(existsSync(`${b.state}.lock`)).toBe(false);
  });
});
