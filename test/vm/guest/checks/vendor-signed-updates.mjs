// A board's key from the factory on: a wiped key refuses a signed update (NOT_PROVISIONED), the
// vendor tooling provisions it over real USB (`keybridge vendor provision`, again: nothing
// changes), signs an update file and applies it (`keybridge vendor sign|apply`); the key then
// shows the vendor, counter and licenses (`keybridge key status`), refuses the same file again
// (STALE_COUNTER) and never prints its secret.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { CheckFailed, VENDOR_DIR, VENDOR_KEY } from "../lib/context.mjs";

const LICENSES = [
  { product: 1001, seats: 10, borrowable: 4, borrowDays: 30 },
  { product: 1002, seats: 5, borrowable: 2, borrowDays: 14 },
  { product: 1003, seats: 20, borrowable: 10, borrowDays: 30 },
];

export default {
  name: "vendor-signed-updates",
  timeoutMs: 400_000,
  async run(ctx) {
    const detail = { steps: [] };
    const started = performance.now();
    const step = (name) => detail.steps.push(`${name} +${Math.round(performance.now() - started)} ms`);
    const cli = (args, expectStatus = 0) => {
      const result = ctx.keybridge([...args, "--json"]);
      if (result.status !== expectStatus) {
        throw new CheckFailed(`keybridge ${args.join(" ")} exited ${result.status}, expected ${expectStatus}`, {
          stderr: result.stderr,
          detail,
        });
      }
      return result;
    };
    const secret = () => JSON.parse(readFileSync(ctx.config.keyState, "utf8")).state.privateKeyPkcs8;

    // A key as it leaves `keybridge key init`: stop it, wipe it on the board, serve it again.
    await ctx.stopKey();
    cli(["key", "wipe", "--yes"]);
    await ctx.ensureKey({ provisioned: false });
    const blank = cli(["key", "status"]).json;
    if (blank.provisioned || blank.licenses.length !== 0)
      throw new CheckFailed("the wiped key is not blank", { blank });
    step("wiped");

    mkdirSync(VENDOR_DIR, { recursive: true });
    if (!existsSync(VENDOR_KEY)) {
      cli(["vendor", "keygen", "--key", VENDOR_KEY]);
      step("vendor key pair made");
    }
    const { vendorFromFile } = await ctx.dist("test/conformance/index.js");
    const vendor = vendorFromFile(VENDOR_KEY);
    const { client } = await ctx.connect();
    try {
      const update = vendor.sign({ serial: client.serial, counter: 1, licenses: LICENSES });
      const refused = await client.signedLicenseUpdate({ opId: randomBytes(16), update }).catch((e) => e);
      if (refused?.code !== "KEY_NOT_PROVISIONED") {
        throw new CheckFailed("an unprovisioned key did not answer NOT_PROVISIONED", { got: String(refused) });
      }
      if ((await client.listLicenses()).length !== 0) throw new CheckFailed("the refused update changed the licenses");
    } finally {
      await client.close();
    }
    step("not provisioned: refused");

    const provisioned = cli(["vendor", "provision", "--key", VENDOR_KEY]).json;
    if (!provisioned.provisioned || provisioned.serial !== ctx.config.serial) {
      throw new CheckFailed("vendor provision did not provision the key", { provisioned });
    }
    const again = cli(["vendor", "provision", "--key", VENDOR_KEY]).json;
    if (again.provisioned) throw new CheckFailed("provisioning again changed the key", { again });
    step("provisioned over USB");

    const licensesFile = `${VENDOR_DIR}/check-licenses.json`;
    writeFileSync(licensesFile, JSON.stringify(LICENSES));
    const file = `${VENDOR_DIR}/check-update.kblu`;
    const signed = cli([
      "vendor",
      "sign",
      "--key",
      VENDOR_KEY,
      "--serial",
      ctx.config.serial,
      "--licenses",
      licensesFile,
      "--out",
      file,
    ]).json;
    const inspected = cli(["vendor", "inspect", file, "--key", VENDOR_KEY]).json;
    if (inspected.signatureValid !== true)
      throw new CheckFailed("inspect does not accept the signed file", { inspected });
    const applied = cli(["vendor", "apply", file]).json;
    if (applied.counter !== signed.counter)
      throw new CheckFailed("the key did not apply the update", { applied, signed });
    step("signed and applied");

    const status = cli(["key", "status"]);
    const shown = status.json;
    if (!shown.provisioned || shown.updateCounter !== signed.counter || shown.licenses.length !== LICENSES.length) {
      throw new CheckFailed("key status does not show the provisioned, updated key", { shown });
    }
    const replay = cli(["vendor", "apply", file], 1);
    if (!replay.stderr.includes("KEY_STALE_COUNTER")) {
      throw new CheckFailed("applying the same update twice was not refused as stale", { stderr: replay.stderr });
    }
    step("replay refused");

    const key = secret();
    const outputs = [blank, provisioned, again, signed, inspected, applied, status.stdout, replay.stderr].map((o) =>
      typeof o === "string" ? o : JSON.stringify(o),
    );
    if (outputs.some((text) => text.includes(key.slice(16, 48))))
      throw new CheckFailed("an output holds the key's secret");
    return {
      ...detail,
      serial: shown.serial,
      updateCounter: shown.updateCounter,
      vendorPublicKey: shown.vendorPublicKey,
    };
  },
};
