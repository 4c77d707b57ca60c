import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkConfig, configCheck } from "../../../src/cli/doctor/config-check.js";
import { checkGroup, findGroup } from "../../../src/cli/doctor/group-check.js";
import { checkNativeModules, nativeFix } from "../../../src/cli/doctor/native-check.js";
import { checkNodeVersion } from "../../../src/cli/doctor/node-check.js";
import { checkUdevRules, RULES_FILE_NAME, SHIPPED_RULES_FILE } from "../../../src/cli/doctor/udev-check.js";
import { loadConfig } from "../../../src/config/load.js";
import { resolveWebhooks } from "../../../src/server/notify/targets.js";

describe("node check", () => {
  it("accepts Node 20 and later, fails 18 with how to install a newer one", () => {
    expect(checkNodeVersion("20.0.0").status).toBe("ok");
    expect(checkNodeVersion("22.11.0").status).toBe("ok");
    const old = checkNodeVersion("18.19.0");
    expect(old.status).toBe("fail");
    expect(old.detail).toContain("18.19.0");
    expect(old.fix).toMatch(/Node\.js 20\+/);
  });
});

describe("native-modules check", () => {
  it("is ok when every package loads", async () => {
    const result = await checkNativeModules({ a: async () => {}, b: async () => {} }, "linux");
    expect(result).toEqual({ status: "ok", detail: "a, b load" });
  });

  it("names the package that does not load and asks for libusb when a shared object is missing", async () => {
    const result = await checkNativeModules(
      {
        "better-sqlite3": async () => {},
        "node-hid": async () => {
          throw new Error("libusb-1.0.so.0: cannot open shared object file: No such file or directory");
        },
      },
      "linux",
    );
    expect(result.status).toBe("fail");
    expect(result.detail).toMatch(/^node-hid does not load: libusb-1\.0\.so\.0/);
    expect(result.detail).not.toContain("better-sqlite3");
    expect(result.fix).toContain("apt-get install --no-install-recommends libusb-1.0-0");
  });

  it("asks for a rebuild when the binary was built for another Node.js", () => {
    const message = "was compiled against a different Node.js version using NODE_MODULE_VERSION 108";
    expect(nativeFix("better-sqlite3", message, "linux")).toMatch(/^npm rebuild better-sqlite3/);
    expect(nativeFix("usb", "Cannot find package 'usb'", "linux")).toMatch(/reinstall keybridge/);
  });
});

describe("udev-rules check", () => {
  let root: string;
  let etc: string;
  let lib: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "kb-doctor-udev-"));
    etc = join(root, "etc");
    lib = join(root, "lib");
    mkdirSync(etc);
    mkdirSync(lib);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const shipped = '# comment\nKERNEL=="hidraw*", ATTRS{idVendor}=="1209", GROUP="keybridge", MODE="0660"\n';
  const shippedFile = () => {
    const file = join(root, RULES_FILE_NAME);
    writeFileSync(file, shipped);
    return file;
  };

  it("is skipped outside Linux, with the reason", async () => {
    const result = await checkUdevRules({ platform: "darwin" });
    expect(result.status).toBe("skip");
    expect(result.detail).toContain("darwin");
  });

  it("fails when no rule file is installed, with the install and reload commands", async () => {
    const result = await checkUdevRules({ platform: "linux", ruleDirs: [etc, lib], shippedRulesFile: shippedFile() });
    expect(result.status).toBe("fail");
    expect(result.fix).toContain(
      `sudo install -m 0644 ${join(root, RULES_FILE_NAME)} /etc/udev/rules.d/${RULES_FILE_NAME}`,
    );
    expect(result.fix).toContain("sudo udevadm control --reload-rules && sudo udevadm trigger");
  });

  it("is ok when the installed file has the shipped rules, even with other comments", async () => {
    writeFileSync(join(lib, RULES_FILE_NAME), `# packaged\r\n${shipped.split("\n")[1]}\r\n`);
    const result = await checkUdevRules({ platform: "linux", ruleDirs: [etc, lib], shippedRulesFile: shippedFile() });
    expect(result.status).toBe("ok");
    expect(result.detail).toContain(join(lib, RULES_FILE_NAME));
  });

  it("warns that a differing file is outdated; the file in /etc wins over the packaged one", async () => {
    writeFileSync(join(lib, RULES_FILE_NAME), shipped);
    writeFileSync(join(etc, RULES_FILE_NAME), 'KERNEL=="hidraw*", ATTRS{idVendor}=="1209", MODE="0666"\n');
    const result = await checkUdevRules({ platform: "linux", ruleDirs: [etc, lib], shippedRulesFile: shippedFile() });
    expect(result.status).toBe("warn");
    expect(result.detail).toMatch(/outdated/);
    expect(result.detail).toContain(join(etc, RULES_FILE_NAME));
    expect(result.fix).toContain("udevadm trigger");
  });

  it("warns about keybridge rules installed under another name", async () => {
    writeFileSync(join(etc, "99-keybridge.rules"), shipped);
    const result = await checkUdevRules({ platform: "linux", ruleDirs: [etc, lib], shippedRulesFile: shippedFile() });
    expect(result.status).toBe("warn");
    expect(result.detail).toContain("99-keybridge.rules");
    expect(result.fix).toContain(`sudo rm ${join(etc, "99-keybridge.rules")}`);
  });

  it("compares against the rules file shipped in the package", async () => {
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(SHIPPED_RULES_FILE, "utf8")).toContain('GROUP="keybridge"');
  });
});

describe("group check", () => {
  const groupFile = "root:x:0:\nkeybridge:x:991:alice\nusers:x:100:\n";

  it("parses /etc/group", () => {
    expect(findGroup(groupFile, "keybridge")).toEqual({ gid: 991, members: ["alice"] });
    expect(findGroup(groupFile, "nobody")).toBeUndefined();
  });

  it("is ok for root and for a member whose session has the group", async () => {
    expect((await checkGroup({ platform: "linux", uid: 0 })).status).toBe("ok");
    const member = await checkGroup({
      platform: "linux",
      uid: 1000,
      userName: "bob",
      processGroups: [100, 991],
      readGroupFile: async () => groupFile,
    });
    expect(member.status).toBe("ok");
  });

  it("warns a user outside the group with the usermod command", async () => {
    const result = await checkGroup({
      platform: "linux",
      uid: 1000,
      userName: "bob",
      processGroups: [100],
      readGroupFile: async () => groupFile,
    });
    expect(result.status).toBe("warn");
    expect(result.fix).toBe("sudo usermod -aG keybridge bob, then log out and in again");
  });

  it("tells a user just added to the group to log in again", async () => {
    const result = await checkGroup({
      platform: "linux",
      uid: 1000,
      userName: "alice",
      processGroups: [100],
      readGroupFile: async () => groupFile,
    });
    expect(result.status).toBe("warn");
    expect(result.fix).toMatch(/log out and in again/);
    expect(result.fix).not.toMatch(/usermod/);
  });

  it("warns when the group does not exist, with how to create it", async () => {
    const result = await checkGroup({
      platform: "linux",
      uid: 1000,
      userName: "bob",
      processGroups: [100],
      readGroupFile: async () => "root:x:0:\n",
    });
    expect(result.status).toBe("warn");
    expect(result.fix).toContain("systemd-sysusers");
  });

  it("is skipped on Windows", async () => {
    expect((await checkGroup({ platform: "win32" })).status).toBe("skip");
  });
});

describe("config check", () => {
  const loaded = (warnings: string[]) => ({ ...loadConfig({ env: { KEYBRIDGE_DATA_DIR: "/srv/kb" } }), warnings });

  it("is ok with the data directory it resolved, warns with the loader's warnings, fails on an error", () => {
    const fine = checkConfig({ loaded: loaded([]) });
    expect(fine.status).toBe("ok");
    expect(fine.detail).toContain("data directory /srv/kb");
    const warned = checkConfig({ loaded: loaded(["listen 0.0.0.0:22380 is reachable from the network"]) });
    expect(warned.status).toBe("warn");
    expect(warned.detail).toContain("reachable from the network");
    const broken = checkConfig({ error: new Error("listen: expected HOST:PORT (from file /srv/kb/keybridge.json)") });
    expect(broken.status).toBe("fail");
    expect(broken.detail).toContain("expected HOST:PORT");
  });

  it("fails on a webhook the daemon would refuse at its next start, naming it", () => {
    const withHooks = (webhooks: unknown) => {
      const base = loaded([]);
      return { ...base, config: { ...base.config, webhooks } } as typeof base;
    };
    const typo = checkConfig(
      { loaded: withHooks([{ url: "https://a.example/x", name: "ops", events: ["risk.rasied"] }]) },
      resolveWebhooks,
    );
    expect(typo.status).toBe("fail");
    expect(typo.detail).toMatch(/^the daemon would not start: webhook ops: 'risk.rasied' matches no event/);
    expect(typo.fix).toContain("docs/notify.md");
    const missingSecret = checkConfig(
      { loaded: withHooks([{ url: "https://a.example/x", secretFile: "/nonexistent/keybridge/hook.secret" }]) },
      resolveWebhooks,
    );
    expect(missingSecret.status).toBe("fail");
    expect(missingSecret.detail).toContain("/nonexistent/keybridge/hook.secret");
    expect(checkConfig({ loaded: withHooks([{ url: "https://a.example/x" }]) }, resolveWebhooks).status).toBe("ok");
  });

  it("the doctor's config check runs the webhook check itself", async () => {
    const base = loaded([]);
    const load = {
      loaded: { ...base, config: { ...base.config, webhooks: [{ url: "https://a.example/", events: ["nope.*"] }] } },
    };
    const result = await configCheck(load as { loaded: typeof base }).run(new AbortController().signal);
    expect(result.status).toBe("fail");
    expect(result.detail).toContain("'nope.*' matches no event");
  });
});
