import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS, type KeybridgeConfig, loadConfig } from "../../../src/config/index.js";
import { startDaemon } from "../../../src/server/daemon.js";
import { describeNeeding, Requirement } from "../../support/require-tool.js";
import { runCli } from "../../unit/cli/cli-harness.js";

const openssl = Requirement.tool("openssl", ["version"]);

/** A self-signed certificate for 127.0.0.1 and localhost, and its key, made with the openssl command. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const made = spawnSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=keybridge test",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  return { cert, key };
}

function getWithCa(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .on("error", reject)
      .end();
  });
}

describeNeeding(openssl, "HTTPS", () => {
  let dir: string;
  let pair: { cert: string; key: string };
  let other: { cert: string; key: string };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kb-tls-"));
    pair = selfSigned(dir, "daemon");
    other = selfSigned(dir, "other");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const configFor = (dataDir: string, tls: { cert: string; key: string }): KeybridgeConfig => ({
    ...CONFIG_DEFAULTS,
    dataDir,
    listen: "127.0.0.1:0",
    mode: "virtual",
    logLevel: "error",
    tlsCert: tls.cert,
    tlsKey: tls.key,
  });

  it("serves the API over HTTPS; the CLI on the same host trusts the daemon's certificate by itself", async () => {
    const dataDir = join(dir, "data-ok");
    const daemon = await startDaemon({ config: configFor(dataDir, pair) });
    try {
      expect(daemon.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const info = JSON.parse(readFileSync(join(dataDir, "daemon.json"), "utf8")) as { url: string; tlsCert: string };
      expect(info).toMatchObject({ url: daemon.url, tlsCert: pair.cert });
      expect(await getWithCa(`${daemon.url}/v1/health`, readFileSync(pair.cert, "utf8"))).toBe(200);
      // Plain fetch (system CAs only) refuses the self-signed certificate.
      await expect(fetch(`${daemon.url}/v1/health`)).rejects.toThrow();

      const status = await runCli(["status", "--json", "--data-dir", dataDir], { HOME: dataDir });
      expect(status.code, status.stderr).toBe(0);
      expect(status.json).toMatchObject({ mode: "virtual" });
      const borrowed = await runCli(["borrow", "1001", "--client", "ws-tls", "--json", "--data-dir", dataDir], {
        HOME: dataDir,
      });
      expect(borrowed.json).toMatchObject({ client: "ws-tls" });
      const following = await runCli(["events", "--follow", "--json", "--data-dir", dataDir], { HOME: dataDir });
      expect(following.code, following.stderr).toBe(0);

      const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
      const untrusted = await runCli(["--url", daemon.url, "status"], { KEYBRIDGE_TOKEN: token, HOME: dir });
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/not trusted .*KEYBRIDGE_TLS_CA.*\[TLS_UNTRUSTED\]/);
      const trusted = await runCli(["--url", daemon.url, "status", "--json"], {
        KEYBRIDGE_TOKEN: token,
        KEYBRIDGE_TLS_CA: pair.cert,
        HOME: dir,
      });
      expect(trusted.code, trusted.stderr).toBe(0);
      const wrongCa = await runCli(["--url", daemon.url, "status"], {
        KEYBRIDGE_TOKEN: token,
        KEYBRIDGE_TLS_CA: other.cert,
        HOME: dir,
      });
      expect(wrongCa.stderr).toMatch(/\[TLS_UNTRUSTED\]/);
    } finally {
      await daemon.stop();
    }
  });

  it("refuses to start with a key that is not the certificate's, or a file it cannot read, saying which", async () => {
    const mismatched = { cert: pair.cert, key: other.key };
    await expect(startDaemon({ config: configFor(join(dir, "data-bad"), mismatched) })).rejects.toMatchObject({
      code: "TLS_SETUP_FAILED",
      message: expect.stringContaining("not usable together"),
    });
    const missing = { cert: join(dir, "nope.crt"), key: pair.key };
    await expect(startDaemon({ config: configFor(join(dir, "data-missing"), missing) })).rejects.toMatchObject({
      code: "TLS_SETUP_FAILED",
      details: { file: missing.cert },
    });
  });
});

describe("TLS configuration", () => {
  it("needs the certificate and the key together, and resolves relative paths", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "kb-tls-config-"));
    try {
      expect(() => loadConfig({ env: { KEYBRIDGE_DATA_DIR: dataDir, KEYBRIDGE_TLS_CERT: "daemon.crt" } })).toThrow(
        /tlsKey: required with tlsCert \(from env KEYBRIDGE_TLS_CERT\)/,
      );
      const loaded = loadConfig({
        env: { KEYBRIDGE_DATA_DIR: dataDir },
        flags: { tlsCert: "daemon.crt", tlsKey: "daemon.key" },
      });
      expect(loaded.config.tlsCert).toBe(join(process.cwd(), "daemon.crt"));
      expect(loaded.sources.tlsKey).toBe("flag --tls-key");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("warns that a remote listen address without TLS sends the token readable", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "kb-tls-config-"));
    try {
      writeFileSync(join(dataDir, "keybridge.json"), JSON.stringify({ listen: "0.0.0.0:22380", allowRemote: true }));
      const plain = loadConfig({ env: { KEYBRIDGE_DATA_DIR: dataDir } });
      expect(plain.warnings.join("\n")).toMatch(/plain HTTP: the API token crosses the network readable/);
      const secure = loadConfig({
        env: { KEYBRIDGE_DATA_DIR: dataDir, KEYBRIDGE_TLS_CERT: "/etc/k.crt", KEYBRIDGE_TLS_KEY: "/etc/k.key" },
      });
      expect(secure.warnings.join("\n")).toMatch(/over HTTPS/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("serve --tls-cert / --tls-key", () => {
  it("pass the pair to the daemon's configuration, and one alone is a configuration error", async () => {
    const { run } = await import("../../../src/cli/program.js");
    const dataDir = mkdtempSync(join(tmpdir(), "kb-tls-flags-"));
    try {
      const seen: KeybridgeConfig[] = [];
      let stderr = "";
      const io = {
        stdout: { write: () => true },
        stderr: {
          write: (text: string) => {
            stderr += text;
            return true;
          },
        },
        env: { KEYBRIDGE_DATA_DIR: dataDir },
      };
      const serve = async ({ config }: { config: KeybridgeConfig }) => {
        seen.push(config);
        return 0;
      };
      const args = ["serve", "--tls-cert", "/etc/k/tls.crt", "--tls-key", "/etc/k/tls.key"];
      expect(await run(args, io, { serve })).toBe(0);
      expect(seen[0]).toMatchObject({ tlsCert: "/etc/k/tls.crt", tlsKey: "/etc/k/tls.key" });
      // A configuration error is a usage error: exit 2.
      expect(await run(["serve", "--tls-cert", "/etc/k/tls.crt"], io, { serve })).toBe(2);
      expect(stderr).toMatch(/tlsKey: required with tlsCert \(from flag --tls-cert\).*\[CONFIG_INVALID\]/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
