/**
 * Smoke test of the real native modules (not the native-mocks stand-ins): they must load on
 * this machine (node-hid needs libusb-1.0 and libudev), enumerate without devices attached,
 * and let the process exit once hotplug listeners are gone. Each check runs in a child node
 * process with a deadline, so a hang or a segfault fails the test instead of the runner.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** Generous: loading the bindings takes well under a second; this only bounds a hang. */
const DEADLINE_MS = 20_000;

interface ChildOutcome {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly killedAtDeadline: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an ES module snippet in a fresh node; module names resolve from the repository root. */
function runChild(source: string, deadlineMs = DEADLINE_MS): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--input-type=module", "--eval", source],
      { cwd: REPO_ROOT, timeout: deadlineMs, killSignal: "SIGKILL", encoding: "utf8" },
      (error, stdout, stderr) => {
        const killed = error !== null && "killed" in error && error.killed === true;
        resolve({ exitCode: child.exitCode, signal: child.signalCode, killedAtDeadline: killed, stdout, stderr });
      },
    );
  });
}

function describeOutcome(outcome: ChildOutcome): string {
  return `exit ${outcome.exitCode} signal ${outcome.signal}\nstdout: ${outcome.stdout}\nstderr: ${outcome.stderr}`;
}

function expectCleanExit(outcome: ChildOutcome): void {
  expect(outcome.killedAtDeadline, describeOutcome(outcome)).toBe(false);
  expect(outcome.signal, describeOutcome(outcome)).toBeNull();
  expect(outcome.exitCode, describeOutcome(outcome)).toBe(0);
}

describe("real native bindings", () => {
  it("node-hid loads and devicesAsync() returns an array", async () => {
    const outcome = await runChild(`
      import { devicesAsync } from "node-hid";
      const devices = await devicesAsync();
      process.stdout.write(JSON.stringify({ isArray: Array.isArray(devices), paths: devices.map((d) => d.path) }));
    `);
    expectCleanExit(outcome);
    const result = JSON.parse(outcome.stdout) as { isArray: boolean; paths: unknown[] };
    expect(result.isArray).toBe(true);
    // Every entry a caller could open has a path (hidraw node on Linux).
    for (const path of result.paths) expect(typeof path).toBe("string");
  });

  it("usb loads and getDeviceList() returns an array of devices with descriptors", async () => {
    const outcome = await runChild(`
      import { getDeviceList } from "usb";
      const list = getDeviceList();
      process.stdout.write(JSON.stringify({
        isArray: Array.isArray(list),
        vendorIds: list.map((d) => d.deviceDescriptor.idVendor),
      }));
    `);
    expectCleanExit(outcome);
    const result = JSON.parse(outcome.stdout) as { isArray: boolean; vendorIds: unknown[] };
    expect(result.isArray).toBe(true);
    for (const id of result.vendorIds) expect(Number.isInteger(id)).toBe(true);
  });

  it.each([
    ["native hotplug (or its polling fallback)", false],
    ["forced polling", true],
  ])("removing the last attach listener lets the process exit: %s", async (_mode, forcePolling) => {
    const outcome = await runChild(`
      import { usb } from "usb";
      usb.pollHotplug = ${forcePolling};
      const onAttach = () => {};
      usb.on("attach", onAttach);
      usb.off("attach", onAttach);
      process.stdout.write("released");
    `);
    expectCleanExit(outcome);
    expect(outcome.stdout).toBe("released");
  });

  it("a kept attach listener holds the process open (the check above can fail)", async () => {
    const outcome = await runChild(
      `
      import { usb } from "usb";
      usb.on("attach", () => {});
      process.stdout.write("listening");
    `,
      4_000,
    );
    expect(outcome.stdout).toBe("listening");
    expect(outcome.killedAtDeadline, describeOutcome(outcome)).toBe(true);
  });
});
