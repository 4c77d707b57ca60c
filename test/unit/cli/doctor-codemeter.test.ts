import { appendFileSync, chmodSync, chownSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { createNodeHidStandIn, createUsbStandIn, VirtualBus } from "../../../native-mocks/index.js";
import { type CodeMeterChecksInputs, codeMeterChecks } from "../../../src/cli/doctor/codemeter-checks.js";
import { runCheck } from "../../../src/cli/doctor/run-checks.js";
import { bitsAllow, lookupServiceAccount, type ServiceAccount } from "../../../src/cli/doctor/service-account.js";
import type { CheckResult } from "../../../src/cli/doctor/types.js";
import { virtualHidBackend } from "../../../src/transport/backend.js";
import { onCleanup, simWorld, snapshot, tempDir } from "../codemeter/helpers.js";

/**
 * doctor's CodeMeter checks over a SYNTHETIC simulated installation (Server.ini, tracking logs, a
 * cmu stand-in, a CmStick on the virtual bus). Each check runs with a long time limit: the cmu
 * stand-in is a node script, and a loaded machine must not turn its start into a failure.
 */

const SERVICE: ServiceAccount = { name: "keybridge", uid: 4242, gid: 4242, groups: [] };
const isRoot = process.getuid?.() === 0;

function installation(options: { tracking?: boolean } = {}) {
  const world = simWorld(options);
  const { sim, bus } = world;
  sim.advance(3_600_000);
  sim.borrow("ws-anna", "anna", 1001);
  sim.advance(60_000);
  const usbBackend = virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus));
  const inputs = (extra: Partial<CodeMeterChecksInputs> = {}): CodeMeterChecksInputs => ({
    config: { mode: "auto", serverIni: sim.paths.serverIni, cmu: sim.paths.cmu },
    env: {},
    platform: "linux",
    usbBackend,
    // The account doctor runs as is the one that must read: its own access decides.
    uid: 1000,
    serviceAccount: async () => undefined,
    cmuTimeoutMs: 20_000,
    ...extra,
  });
  return { ...world, inputs };
}

async function run(inputs: CodeMeterChecksInputs): Promise<CheckResult[]> {
  const checks = await codeMeterChecks(inputs);
  return Promise.all(checks.map((check) => runCheck(check, 30_000)));
}

const byId = (results: CheckResult[], id: string) => {
  const found = results.find((result) => result.id === id);
  if (found === undefined) throw new Error(`no check ${id} in ${results.map((r) => r.id).join(", ")}`);
  return found;
};

describe("doctor's CodeMeter checks", () => {
  it("on a CodeMeter server: cmu and its version, tracking on, the log directory and the Borrow sections readable", async () => {
    const { sim, inputs } = installation();
    const tree = [join(sim.root, "etc"), join(sim.root, "var"), join(sim.root, "usr")];
    const before = tree.map(snapshot);
    const results = await run(inputs());
    expect(results.map((result) => [result.id, result.status])).toEqual([
      ["codemeter-cmu", "ok"],
      ["codemeter-tracking", "ok"],
      ["codemeter-log-dir", "ok"],
      ["codemeter-borrow-sections", "ok"],
    ]);
    expect(byId(results, "codemeter-cmu").detail).toBe(
      `cmu ${sim.paths.cmu}: CodeMeter runtime 8.20a, service running`,
    );
    expect(byId(results, "codemeter-tracking").detail).toBe(
      `on (LogLicenseTracking=1 in ${sim.paths.serverIni}); the log goes to ${sim.paths.logDir}`,
    );
    expect(byId(results, "codemeter-log-dir").detail).toBe(
      `${sim.paths.logDir} (LogLicenseTrackingPath in ${sim.paths.serverIni}): 2 files, readable by you (uid 1000)`,
    );
    expect(byId(results, "codemeter-borrow-sections").detail).toBe(
      `readable in ${sim.paths.serverIni} by you (uid 1000): BorrowClient empty, BorrowServer 1 value, BorrowManage 2 values`,
    );
    // Read-only: the tree is as it was, and cmu was asked for its version, nothing else.
    expect(tree.map(snapshot)).toEqual(before);
    const asked = new Set(readFileSync(sim.paths.invocations, "utf8").trim().split("\n"));
    expect(asked).toEqual(new Set(['["--version"]']));
  });

  it("a host without CodeMeter (mode auto, nothing found): doctor says nothing about CodeMeter", async () => {
    const root = tempDir();
    const bus = new VirtualBus();
    onCleanup(() => bus.close());
    const results = await run({
      config: { mode: "auto", serverIni: join(root, "Server.ini"), logDir: join(root, "log") },
      env: { PATH: "" },
      platform: "linux",
      usbBackend: virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus)),
    });
    expect(results).toEqual([]);
  });

  it("codemeter.mode off: one line saying so, whatever is installed", async () => {
    const { inputs } = installation();
    const results = await run(inputs({ config: { mode: "off" } }));
    expect(results).toEqual([
      {
        id: "codemeter",
        title: "CodeMeter",
        status: "skip",
        detail: "the CodeMeter mode is off (codemeter.mode = off)",
      },
    ]);
  });

  it("License Tracking off: a warning with the exact setting to make and why to restart with care", async () => {
    const { sim, inputs } = installation({ tracking: false });
    const tracking = byId(await run(inputs()), "codemeter-tracking");
    expect(tracking.status).toBe("warn");
    expect(tracking.detail).toContain(`off (LogLicenseTracking=0 in ${sim.paths.serverIni})`);
    expect(tracking.fix).toContain(`LogLicenseTracking=1`);
    expect(tracking.fix).toContain("restart the CodeMeter service");
  });

  it("the CodeMeter service stopped: cmu says so, and doctor warns", async () => {
    const { sim, inputs } = installation();
    sim.stopService();
    const cmu = byId(await run(inputs()), "codemeter-cmu");
    expect(cmu.status).toBe("warn");
    expect(cmu.detail).toContain("the CodeMeter service is NOT running");
    expect(cmu.fix).toContain("start the CodeMeter service again");
  });

  it("mode on with parts missing: each check says what is missing and how to name it", async () => {
    const root = tempDir();
    const bus = new VirtualBus();
    onCleanup(() => bus.close());
    const results = await run({
      config: { mode: "on", serverIni: join(root, "Server.ini"), cmu: join(root, "cmu"), logDir: join(root, "log") },
      env: {},
      platform: "linux",
      usbBackend: virtualHidBackend(createNodeHidStandIn(bus), createUsbStandIn(bus)),
      uid: 1000,
      serviceAccount: async () => undefined,
    });
    expect(results.map((result) => [result.id, result.status])).toEqual([
      ["codemeter-cmu", "warn"],
      ["codemeter-tracking", "warn"],
      ["codemeter-log-dir", "warn"],
      ["codemeter-borrow-sections", "warn"],
    ]);
    expect(byId(results, "codemeter-cmu").fix).toContain('"codemeter": {"cmu": "/usr/bin/cmu"}');
    expect(byId(results, "codemeter-cmu").fix).toContain("KEYBRIDGE_CODEMETER_CMU=");
    expect(byId(results, "codemeter-log-dir").detail).toBe(`${join(root, "log")} (codemeter.logDir) does not exist`);
    expect(byId(results, "codemeter-borrow-sections").fix).toContain("--codemeter-server-ini");
  });

  it("a cmu that hangs is stopped, and the check says so instead of hanging doctor", async () => {
    const { sim, inputs } = installation();
    sim.setCmuBehaviour("hang");
    const cmu = byId(await run(inputs({ cmuTimeoutMs: 300 })), "codemeter-cmu");
    expect(cmu.status).toBe("warn");
    expect(cmu.detail).toContain("did not answer within 300 ms");
  });

  describe("bad input: each a clear finding, doctor finishes, nothing written", () => {
    it.each([
      ["prints garbage", "garbage", "printed nothing keybridge recognises"],
      ["exits non-zero", "fail", "exited with code 2: cmu: synthetic failure"],
    ] as const)("a cmu that %s", async (_what, behaviour, said) => {
      const { sim, inputs } = installation();
      sim.setCmuBehaviour(behaviour);
      const cmu = byId(await run(inputs()), "codemeter-cmu");
      expect(cmu.status).toBe("warn");
      expect(cmu.detail).toContain(`\`${sim.paths.cmu} --version\` ${said}`);
      expect(cmu.fix).toContain("keybridge codemeter capture --out FILE");
    });

    it("a Server.ini with a duplicate section and bytes that are not UTF-8: read, with both findings", async () => {
      const { sim, inputs } = installation();
      appendFileSync(
        sim.paths.serverIni,
        Buffer.from("[General]\nNetworkPort=22350\n[Synthetic]\nName=\xff\n", "latin1"),
      );
      const tree = [join(sim.root, "etc"), join(sim.root, "var")];
      const before = tree.map(snapshot);
      const results = await run(inputs());
      const sections = byId(results, "codemeter-borrow-sections");
      expect(sections.status).toBe("warn");
      expect(sections.detail).toContain("section [General] appears more than once");
      expect(sections.detail).toContain("not valid UTF-8");
      expect(byId(results, "codemeter-tracking").status).toBe("ok");
      expect(tree.map(snapshot)).toEqual(before);
    });

    it("a Server.ini that is garbage: the sections and tracking checks fail and say why", async () => {
      const { sim, inputs } = installation();
      writeFileSync(sim.paths.serverIni, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0xff, 10, 0, 1]));
      const results = await run(inputs());
      const sections = byId(results, "codemeter-borrow-sections");
      expect(sections.status).toBe("fail");
      expect(sections.detail).toContain(`${sim.paths.serverIni} holds no section keybridge can read`);
      expect(byId(results, "codemeter-tracking")).toMatchObject({
        status: "fail",
        detail: expect.stringContaining("cannot tell whether License Tracking is on"),
      });
    });

    it("a log directory that vanished: a warning naming where the configuration says it is", async () => {
      const { sim, inputs } = installation();
      renameSync(sim.paths.logDir, `${sim.paths.logDir}.away`);
      const logDir = byId(await run(inputs()), "codemeter-log-dir");
      expect(logDir.status).toBe("warn");
      expect(logDir.detail).toBe(
        `${sim.paths.logDir} (LogLicenseTrackingPath in ${sim.paths.serverIni}) does not exist`,
      );
    });
  });

  describe("readable by the service account, judged by the permission bits (as root, root's own access says nothing)", () => {
    const asRoot = (extra: Partial<CodeMeterChecksInputs> = {}): Partial<CodeMeterChecksInputs> => ({
      uid: 0,
      serviceAccount: async () => SERVICE,
      ...extra,
    });

    it("a private parent directory, then a log directory only root may list: each with its fix", async () => {
      const { sim, inputs } = installation();
      // mkdtemp made the simulated root 0700: the service cannot pass through it.
      const blocked = byId(await run(inputs(asRoot())), "codemeter-log-dir");
      expect(blocked.status).toBe("fail");
      expect(blocked.detail).toContain("is not readable by the keybridge service (user keybridge)");
      expect(blocked.detail).toContain(`${sim.root} cannot be passed through`);
      expect(blocked.fix?.split("\n")[0]).toBe(`sudo chmod o+x ${sim.root}`);

      chmodSync(sim.root, 0o755);
      chmodSync(dirname(sim.root), 0o1777);
      for (let dir = dirname(sim.paths.logDir); dir !== sim.root; dir = dirname(dir)) chmodSync(dir, 0o755);
      chmodSync(sim.paths.logDir, 0o755);
      for (const name of readdirSync(sim.paths.logDir)) chmodSync(join(sim.paths.logDir, name), 0o644);
      const open = await run(inputs(asRoot()));
      expect(byId(open, "codemeter-log-dir")).toMatchObject({
        status: "ok",
        detail: expect.stringContaining("2 files, readable by the keybridge service (user keybridge)"),
      });

      chmodSync(sim.paths.logDir, 0o700);
      const closed = byId(await run(inputs(asRoot())), "codemeter-log-dir");
      expect(closed.status).toBe("fail");
      expect(closed.detail).toContain(`${sim.paths.logDir} cannot be listed (owner uid`);
      expect(closed.fix).toContain(`sudo chgrp keybridge ${sim.paths.logDir} ${sim.paths.logDir}/*`);
      expect(closed.fix).toContain(`sudo chmod g+s ${sim.paths.logDir}`);
    });

    it.skipIf(!isRoot)("a log directory its group may read: joining that group is the fix", async () => {
      const { sim, inputs } = installation();
      chmodSync(sim.root, 0o755);
      for (let dir = dirname(sim.paths.logDir); dir !== sim.root; dir = dirname(dir)) chmodSync(dir, 0o755);
      chownSync(sim.paths.logDir, 0, 4343);
      chmodSync(sim.paths.logDir, 0o750);
      for (const name of readdirSync(sim.paths.logDir)) {
        chownSync(join(sim.paths.logDir, name), 0, 4343);
        chmodSync(join(sim.paths.logDir, name), 0o640);
      }
      const accountFiles = { readGroup: async () => "root:x:0:\ncmlog:x:4343:\n" };
      const outside = byId(await run(inputs(asRoot({ accountFiles }))), "codemeter-log-dir");
      expect(outside.status).toBe("fail");
      expect(outside.fix).toBe(
        "sudo usermod -aG cmlog keybridge\nthen sudo systemctl restart keybridge, so the service has the group",
      );
      const member = { ...SERVICE, groups: [4343] };
      const inside = byId(
        await run(inputs({ uid: 0, serviceAccount: async () => member, accountFiles })),
        "codemeter-log-dir",
      );
      expect(inside.status).toBe("ok");
    });

    it("a Server.ini only root may read: the Borrow sections check fails for the service, with the fix", async () => {
      const { sim, inputs } = installation();
      chmodSync(sim.root, 0o755);
      for (let dir = dirname(sim.paths.serverIni); dir !== sim.root; dir = dirname(dir)) chmodSync(dir, 0o755);
      chmodSync(sim.paths.serverIni, 0o600);
      const sections = byId(await run(inputs(asRoot())), "codemeter-borrow-sections");
      expect(sections.status).toBe("fail");
      expect(sections.detail).toContain("can be read here but not by the keybridge service (user keybridge)");
      expect(sections.fix).toBe(`sudo chgrp keybridge ${sim.paths.serverIni} && sudo chmod g+r ${sim.paths.serverIni}`);
    });
  });
});

describe("the service account", () => {
  it("is the keybridge user of /etc/passwd with its groups from /etc/group", async () => {
    const account = await lookupServiceAccount("keybridge", {
      readPasswd: async () => "root:x:0:0::/root:/bin/sh\nkeybridge:x:990:990::/var/lib/keybridge:/usr/sbin/nologin\n",
      readGroup: async () => "root:x:0:\nkeybridge:x:990:\nadm:x:4:syslog,keybridge\nwibu:x:500:anna\n",
    });
    expect(account).toEqual({ name: "keybridge", uid: 990, gid: 990, groups: [4] });
    expect(await lookupServiceAccount("keybridge", { readPasswd: async () => "root:x:0:0::/:/bin/sh\n" })).toBe(
      undefined,
    );
  });

  it.each([
    ["owner bits for the owner", { mode: 0o400, uid: 4242, gid: 1 }, "read", true],
    ["owner without read", { mode: 0o044, uid: 4242, gid: 4242 }, "read", false],
    ["group bits for the primary group", { mode: 0o040, uid: 1, gid: 4242 }, "read", true],
    ["group bits for a supplementary group", { mode: 0o050, uid: 1, gid: 7 }, "list", true],
    ["others' bits otherwise", { mode: 0o004, uid: 1, gid: 1 }, "read", true],
    ["a directory readable but not searchable", { mode: 0o444, uid: 1, gid: 1 }, "list", false],
    ["search alone", { mode: 0o001, uid: 1, gid: 1 }, "search", true],
  ] as const)("bitsAllow: %s", (_what, node, need, allowed) => {
    expect(bitsAllow(node, { ...SERVICE, groups: [7] }, need)).toBe(allowed);
  });
});
