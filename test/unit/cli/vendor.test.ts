/** `keybridge vendor keygen|sign|inspect`: the vendor's files, run in-process on a temp directory. */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  decodeLicenseUpdateFile,
  generateVendorKeyPair,
  licenseUpdateSignatureValid,
  MAX_UPDATE_FILE_SIZE,
  vendorPublicKeyFromText,
  vendorPublicKeyToText,
  vendorSecretToPem,
} from "../../../src/protocol/index.js";
import { type CliResult, runCli } from "./cli-harness.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function vendorDir() {
  const dir = mkdtempSync(join(tmpdir(), "kb-vendor-"));
  dirs.push(dir);
  const key = join(dir, "vendor.key");
  const outputs: CliResult[] = [];
  const cli = async (...args: string[]) => {
    const result = await runCli(args, { KEYBRIDGE_VENDOR_KEY: key });
    outputs.push(result);
    return result;
  };
  return { dir, key, pub: join(dir, "vendor.pub"), counters: join(dir, "vendor.counters.json"), cli, outputs };
}

/** The base64 body of the PEM secret: no output may contain any of it. */
function secretBody(file: string): string {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("-----"))
    .join("");
}

describe("keybridge vendor keygen", () => {
  it("writes the secret 0600 and the public key beside it, prints only the public key, never overwrites", async () => {
    const v = vendorDir();
    const created = await v.cli("vendor", "keygen", "--json");
    expect(created.code, created.stderr).toBe(0);
    expect(statSync(v.key).mode & 0o777).toBe(0o600);
    const publicKey = vendorPublicKeyFromText(readFileSync(v.pub, "utf8"));
    expect(created.json).toEqual({
      secretFile: v.key,
      publicKeyFile: v.pub,
      publicKey: Buffer.from(publicKey).toString("hex"),
    });
    const before = readFileSync(v.key, "utf8");
    const again = await v.cli("vendor", "keygen");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/never overwritten \[VENDOR_KEY_EXISTS\]/);
    expect(readFileSync(v.key, "utf8")).toBe(before);
    for (const output of v.outputs)
      expect(`${output.stdout}${output.stderr}`).not.toContain(secretBody(v.key).slice(10, 40));
  });

  it("without --key or KEYBRIDGE_VENDOR_KEY it says how to name the secret", async () => {
    const result = await runCli(["vendor", "keygen"], {});
    expect(result.stderr).toMatch(/--key FILE.*\[VENDOR_KEY_MISSING\]/);
  });
});

describe("keybridge vendor sign", () => {
  it("signs for a serial with the next counter each time, tracked beside the secret", async () => {
    const v = vendorDir();
    await v.cli("vendor", "keygen");
    const first = await v.cli("vendor", "sign", "--serial", "KB-0001", "--license", "1001:10:4:30", "--json");
    expect(first.code, first.stderr).toBe(0);
    const file = join(process.cwd(), "KB-0001-1.kblu");
    try {
      expect(first.json).toMatchObject({ file, serial: "KB-0001", counter: 1 });
      const update = decodeLicenseUpdateFile(readFileSync(file));
      expect(update).toMatchObject({
        serial: "KB-0001",
        counter: 1,
        licenses: [{ product: 1001, seats: 10, borrowable: 4, borrowDays: 30 }],
      });
      expect(licenseUpdateSignatureValid(update, vendorPublicKeyFromText(readFileSync(v.pub, "utf8")))).toBe(true);
    } finally {
      rmSync(file, { force: true });
    }
    const licenses = join(v.dir, "licenses.json");
    writeFileSync(licenses, JSON.stringify({ licenses: [{ product: 7, seats: 3, borrowable: 1, borrowDays: 7 }] }));
    const out = join(v.dir, "second.kblu");
    const second = await v.cli(
      "vendor",
      "sign",
      "--serial",
      "KB-0001",
      "--licenses",
      licenses,
      "--license",
      "8:1:1:1",
      "--out",
      out,
    );
    expect(second.stdout).toMatch(/^Signed update 2 for key KB-0001 \(2 license\(s\)\)/);
    expect(decodeLicenseUpdateFile(readFileSync(out)).licenses.map((l) => l.product)).toEqual([7, 8]);
    // Another serial has its own sequence.
    await v.cli("vendor", "sign", "--serial", "KB-0002", "--license", "8:1:1:1", "--out", join(v.dir, "b.kblu"));
    expect(statSync(v.counters).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(v.counters, "utf8")).serials).toEqual({ "KB-0001": 2, "KB-0002": 1 });
  });

  it("--counter jumps ahead; a counter already used is refused and nothing is written", async () => {
    const v = vendorDir();
    await v.cli("vendor", "keygen");
    const out = (name: string) => ["--out", join(v.dir, name)];
    expect(
      (await v.cli("vendor", "sign", "--serial", "KB-1", "--license", "1:1:1:1", "--counter", "5", ...out("a.kblu")))
        .code,
    ).toBe(0);
    const next = await v.cli("vendor", "sign", "--serial", "KB-1", "--license", "1:1:1:1", ...out("b.kblu"), "--json");
    expect(next.json).toMatchObject({ counter: 6 });
    const reused = await v.cli(
      "vendor",
      "sign",
      "--serial",
      "KB-1",
      "--license",
      "1:1:1:1",
      "--counter",
      "3",
      ...out("c.kblu"),
    );
    expect(reused.code).toBe(1);
    expect(reused.stderr).toMatch(/counter 3 is not above 6.*\[VENDOR_COUNTER_USED\]/);
    expect(existsSync(join(v.dir, "c.kblu"))).toBe(false);
    expect(JSON.parse(readFileSync(v.counters, "utf8")).serials).toEqual({ "KB-1": 6 });
  });

  it("refuses a license set a key would refuse, naming the problem", async () => {
    const v = vendorDir();
    await v.cli("vendor", "keygen");
    const sign = (...args: string[]) =>
      v.cli("vendor", "sign", "--serial", "KB-1", "--out", join(v.dir, "x.kblu"), ...args);
    expect((await sign()).stderr).toMatch(/--licenses FILE.*\[LICENSES_INVALID\]/);
    expect((await sign("--license", "1:2:3:4")).stderr).toMatch(/borrowable \(3\) exceeds seats \(2\)/);
    expect((await sign("--license", "1:2:1:4", "--license", "1:5:1:4")).stderr).toMatch(/product 1 appears twice/);
    expect((await sign("--license", "1:2:1:400")).stderr).toMatch(/days must be an integer 1\.\.365/);
    expect((await sign("--license", "one:2:1:4")).stderr).toMatch(/PRODUCT:SEATS:BORROWABLE:DAYS/);
    const bad = join(v.dir, "bad.json");
    writeFileSync(bad, '{"licences": []}');
    expect((await sign("--licenses", bad)).stderr).toMatch(/neither a list of licenses/);
    expect(existsSync(join(v.dir, "x.kblu"))).toBe(false);
    expect(existsSync(v.counters)).toBe(false);
  });

  it("warns when the secret can be read by others, and refuses counters of another vendor key", async () => {
    const v = vendorDir();
    await v.cli("vendor", "keygen");
    chmodSync(v.key, 0o644);
    const signed = await v.cli(
      "vendor",
      "sign",
      "--serial",
      "KB-1",
      "--license",
      "1:1:1:1",
      "--out",
      join(v.dir, "a.kblu"),
    );
    expect(signed.code).toBe(0);
    expect(signed.stderr).toMatch(/^warning: .*can be read by others \(mode 0644\).*chmod 600/);
    const other = generateVendorKeyPair();
    writeFileSync(v.key, vendorSecretToPem(other.secret), { mode: 0o600 });
    const refused = await v.cli(
      "vendor",
      "sign",
      "--serial",
      "KB-1",
      "--license",
      "1:1:1:1",
      "--out",
      join(v.dir, "b.kblu"),
    );
    expect(refused.stderr).toMatch(/counters of another vendor key.*\[VENDOR_COUNTERS_INVALID\]/);
  });
});

describe("keybridge vendor inspect", () => {
  it("shows the update and checks the signature against a given vendor; exit 1 when it does not verify", async () => {
    const v = vendorDir();
    await v.cli("vendor", "keygen");
    const file = join(v.dir, "u.kblu");
    await v.cli("vendor", "sign", "--serial", "KB-0001", "--license", "1001:10:4:30", "--out", file);
    const publicHex = readFileSync(v.pub, "utf8").trim();

    const byFile = await runCli(["vendor", "inspect", file, "--public-key", v.pub]);
    expect(byFile.code, byFile.stderr).toBe(0);
    expect(byFile.stdout).toBe(
      "Update 1 for key KB-0001: 1 license(s)\n" +
        "  product 1001: 10 seats, 4 borrowable for up to 30 days\n" +
        `  signature valid, by vendor ${publicHex}\n`,
    );
    const unchecked = await runCli(["vendor", "inspect", file, "--json"]);
    expect(unchecked.json).toMatchObject({
      serial: "KB-0001",
      counter: 1,
      signatureValid: null,
      vendorPublicKey: null,
    });

    const stranger = Buffer.from(generateVendorKeyPair().publicKey).toString("hex");
    const wrong = await runCli(["vendor", "inspect", file, "--public-key", stranger, "--json"]);
    expect(wrong.code).toBe(1);
    expect(wrong.json).toMatchObject({ signatureValid: false, vendorPublicKey: stranger });
    const withSecret = await v.cli("vendor", "inspect", file, "--json");
    expect(withSecret.json).toMatchObject({ signatureValid: true, vendorPublicKey: publicHex });
    for (const output of v.outputs)
      expect(`${output.stdout}${output.stderr}`).not.toContain(secretBody(v.key).slice(10, 40));
  });

  it("a truncated, foreign or oversized file is UPDATE_FILE_INVALID with the reason", async () => {
    const v = vendorDir();
    await v.cli("vendor", "keygen");
    const file = join(v.dir, "u.kblu");
    await v.cli("vendor", "sign", "--serial", "KB-0001", "--license", "1001:10:4:30", "--out", file);
    const cut = join(v.dir, "cut.kblu");
    writeFileSync(cut, readFileSync(file).subarray(0, 40));
    expect((await runCli(["vendor", "inspect", cut])).stderr).toMatch(/needs 64 bytes.*\[UPDATE_FILE_INVALID\]/);
    const foreign = join(v.dir, "licenses.json");
    writeFileSync(foreign, "[]");
    expect((await runCli(["vendor", "inspect", foreign])).stderr).toMatch(/does not start with "KBLU"/);
    const huge = join(v.dir, "huge.kblu");
    writeFileSync(huge, new Uint8Array(MAX_UPDATE_FILE_SIZE + 1));
    expect((await runCli(["vendor", "inspect", huge])).stderr).toMatch(/at most 2668.*\[UPDATE_FILE_INVALID\]/);
    const pubFile = join(v.dir, "other.pub");
    writeFileSync(pubFile, vendorPublicKeyToText(generateVendorKeyPair().publicKey));
    expect((await runCli(["vendor", "inspect", file, "--public-key", pubFile])).code).toBe(1);
  });
});
