import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import {
  encodeLicenseUpdateFile,
  generateVendorKeyPair,
  type License,
  licenseUpdateSignatureValid,
  MAX_UPDATE_COUNTER,
  signLicenseUpdate,
  toHex,
  UPDATE_FILE_EXTENSION,
  vendorPublicKeyToText,
  vendorSecretToPem,
} from "../../protocol/index.js";
import { type CommandKit, example, integer, readText } from "../command-kit.js";
import { EXIT } from "../io.js";
import { licenseChangeText as changeText, licenseText } from "../render.js";
import { VendorError } from "../vendor/errors.js";
import {
  publicFileOf,
  readUpdateFile,
  readVendorPublicKey,
  readVendorSecret,
  VendorCounters,
  writeDurably,
} from "../vendor/files.js";
import { checkLicenseSet, licenseFromSpec, licensesFromJson } from "../vendor/licenses.js";

/**
 * `keybridge vendor ...`: the software vendor's side of its keys, run on the vendor's own
 * computer (no daemon): a key pair, signed license update files, and a factory station that
 * provisions keys and gives them their first licenses over USB.
 */
type Station = typeof import("../../bridge/factory-station.js");

const loadStation = (): Promise<Station> => import("../../bridge/factory-station.js");

const FLOW =
  "\nThe flow: keygen once; provision each new key with the public key (factory station, the key on USB);\n" +
  "sign an update file per key and license change; the key's license server applies it.\n" +
  "A key refuses every update not signed by its vendor, for another serial, or not newer than its last.\n";

export function registerVendor(program: Command, kit: CommandKit): void {
  const { io, out, globals, state } = kit;
  const json = (command: Command) => globals(command).json === true;
  const print = (command: Command, value: unknown, text: string) =>
    out(json(command) ? `${JSON.stringify(value, null, 2)}\n` : text);
  const warn = (text: string | undefined) => {
    if (text !== undefined) io.stderr.write(`warning: ${text}\n`);
  };
  const secretFile = (given: string | undefined): string => {
    const file = given ?? io.env.KEYBRIDGE_VENDOR_KEY;
    if (file === undefined || file === "") {
      throw new VendorError("VENDOR_KEY_MISSING", "name the vendor secret with --key FILE (or KEYBRIDGE_VENDOR_KEY)");
    }
    return resolve(file);
  };
  const keyOption = ["--key <file>", "the vendor secret (default $KEYBRIDGE_VENDOR_KEY)"] as const;

  const vendor = program
    .command("vendor")
    .description("the vendor's side: key pair, signed license updates, provisioning keys (runs locally, no daemon)")
    .addHelpText(
      "after",
      FLOW +
        example(
          "keybridge vendor keygen --key ~/vendor/vendor.key",
          "keybridge vendor provision --key ~/vendor/vendor.key",
          "keybridge vendor sign --key ~/vendor/vendor.key --serial KB-0001 --license 1001:10:4:30",
          "keybridge vendor inspect KB-0001-1.kblu --public-key ~/vendor/vendor.pub",
        ),
    );

  vendor
    .command("keygen")
    .description("create the vendor's Ed25519 key pair: the secret (0600, never printed) and the public key beside it")
    .option(...keyOption)
    .addHelpText(
      "after",
      "\nWrites FILE (the secret, mode 0600) and FILE with .pub for .key (the public key, one line of hex).\n" +
        "Keep the secret offline and backed up: whoever holds it can sign licenses for every key provisioned\n" +
        "with it, and a lost secret means no more updates for those keys. An existing secret is never overwritten.\n" +
        example("keybridge vendor keygen --key ~/vendor/vendor.key"),
    )
    .action((options: { key?: string }, command: Command) => {
      const file = secretFile(options.key);
      if (existsSync(file)) {
        throw new VendorError("VENDOR_KEY_EXISTS", `${file} exists; a vendor secret is never overwritten`, {
          details: { file },
        });
      }
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const pair = generateVendorKeyPair();
      writeDurably(file, vendorSecretToPem(pair.secret), 0o600);
      const publicFile = publicFileOf(file);
      writeDurably(publicFile, vendorPublicKeyToText(pair.publicKey), 0o644);
      const publicKey = toHex(pair.publicKey);
      print(
        command,
        { secretFile: file, publicKeyFile: publicFile, publicKey },
        `Vendor key pair created.\n  secret      ${file} (0600; keep it offline and backed up)\n` +
          `  public key  ${publicKey}\n              (in ${publicFile}: provision your keys with it)\n`,
      );
    });

  vendor
    .command("sign")
    .description(
      "sign a license update file for one key: its serial, the next update counter, the whole new license set",
    )
    .requiredOption("--serial <serial>", "the key the update is for")
    .option("--licenses <file>", 'the new set, JSON: [{product, seats, borrowable, borrowDays}] or {"licenses": [...]}')
    .option(
      "--license <spec>",
      "a license PRODUCT:SEATS:BORROWABLE:DAYS, e.g. 1001:10:4:30 (repeat it)",
      (spec: string, previous: string[]) => [...previous, spec],
      [] as string[],
    )
    .option(
      "--counter <n>",
      "the update counter (default: one above the last signed for this serial)",
      integer("counter", 1),
    )
    .option(...keyOption)
    .option("--out <file>", `where to write the update (default SERIAL-COUNTER${UPDATE_FILE_EXTENSION})`)
    .addHelpText(
      "after",
      "\nThe update replaces the key's whole license set; a key applies an update only when its counter is\n" +
        "above the last it applied, so an old update cannot be replayed to roll licenses back. The counters\n" +
        "signed so far are kept beside the secret (.counters.json); sign with one secret from one place at a time.\n" +
        "The update file is not secret: it is good for that one key, once.\n" +
        example(
          "keybridge vendor sign --key vendor.key --serial KB-0001 --license 1001:10:4:30 --license 1002:5:2:14",
          "keybridge vendor sign --key vendor.key --serial KB-0001 --licenses licenses.json --out upgrade.kblu",
        ),
    )
    .action(
      (
        options: { serial: string; licenses?: string; license: string[]; counter?: number; key?: string; out?: string },
        command: Command,
      ) => {
        const file = secretFile(options.key);
        const secret = readVendorSecret(file);
        warn(secret.warning);
        const given: License[] = [];
        if (options.licenses !== undefined)
          given.push(...licensesFromJson(readText(options.licenses), options.licenses));
        given.push(...options.license.map(licenseFromSpec));
        if (options.licenses === undefined && options.license.length === 0) {
          throw new VendorError(
            "LICENSES_INVALID",
            "give the key's new license set with --licenses FILE and/or --license PRODUCT:SEATS:BORROWABLE:DAYS",
          );
        }
        const licenses = checkLicenseSet(given);
        const counters = VendorCounters.load(file, secret.publicKey);
        const last = counters.last(options.serial);
        const counter = options.counter ?? last + 1;
        if (counter <= last) {
          throw new VendorError(
            "VENDOR_COUNTER_USED",
            `counter ${counter} is not above ${last}, the last signed for ${options.serial}; a key that applied ` +
              `that update refuses this one. Leave --counter out, or give one above ${last}`,
            { details: { serial: options.serial, counter, last } },
          );
        }
        if (counter > MAX_UPDATE_COUNTER) {
          throw new VendorError("VENDOR_COUNTER_USED", `counter ${counter} exceeds ${MAX_UPDATE_COUNTER}`);
        }
        const update = signLicenseUpdate(secret.secret, { serial: options.serial, counter, licenses });
        const target = resolve(options.out ?? `${options.serial}-${counter}${UPDATE_FILE_EXTENSION}`);
        // The counter first: a crash in between skips a number, which keys accept; the reverse could sign one twice.
        counters.record(options.serial, counter);
        writeDurably(target, encodeLicenseUpdateFile(update), 0o644);
        print(
          command,
          { file: target, serial: update.serial, counter, licenses, vendorPublicKey: toHex(secret.publicKey) },
          `Signed update ${counter} for key ${update.serial} (${licenses.length} license(s)): ${target}\n` +
            licenses.map((license) => `  ${licenseText(license)}\n`).join(""),
        );
      },
    );

  vendor
    .command("inspect")
    .description("show what an update file holds, and whether its signature is the vendor's")
    .argument("<file>", `a license update file (${UPDATE_FILE_EXTENSION})`)
    .option("--public-key <hex|file>", "the vendor public key to check the signature with (hex, or a .pub file)")
    .option(...keyOption)
    .addHelpText(
      "after",
      "\nWithout --public-key or --key (or KEYBRIDGE_VENDOR_KEY) the signature is not checked. Exit status 1\n" +
        "when it is checked and does not verify.\n" +
        example(
          "keybridge vendor inspect KB-0001-3.kblu --public-key vendor.pub",
          "keybridge vendor inspect KB-0001-3.kblu --json",
        ),
    )
    .action((file: string, options: { publicKey?: string; key?: string }, command: Command) => {
      const update = readUpdateFile(file);
      let vendorKey: Uint8Array | undefined;
      if (options.publicKey !== undefined) vendorKey = readVendorPublicKey(options.publicKey);
      else if (options.key !== undefined || (io.env.KEYBRIDGE_VENDOR_KEY ?? "") !== "") {
        vendorKey = readVendorSecret(secretFile(options.key)).publicKey;
      }
      const valid = vendorKey === undefined ? null : licenseUpdateSignatureValid(update, vendorKey);
      const verdict =
        valid === null
          ? "not checked (name the vendor with --public-key or --key)"
          : valid
            ? `valid, by vendor ${toHex(vendorKey!)}`
            : `NOT VALID for vendor ${toHex(vendorKey!)}: a key provisioned with it refuses this update`;
      print(
        command,
        {
          file: resolve(file),
          serial: update.serial,
          counter: update.counter,
          licenses: update.licenses,
          signature: toHex(update.signature),
          vendorPublicKey: vendorKey === undefined ? null : toHex(vendorKey),
          signatureValid: valid,
        },
        `Update ${update.counter} for key ${update.serial}: ${update.licenses.length} license(s)\n` +
          update.licenses.map((license) => `  ${licenseText(license)}\n`).join("") +
          `  signature ${verdict}\n`,
      );
      if (valid === false) state.exitCode = EXIT.error;
    });

  vendor
    .command("provision")
    .description("factory station: bind the key attached over USB to the vendor's public key, once")
    .option("--serial <serial>", "the key to provision, when several are attached")
    .option("--public-key <hex|file>", "the vendor public key (hex, or the .pub file)")
    .option(...keyOption)
    .addHelpText(
      "after",
      "\nTalks to the key directly (no daemon), as the key's first host. A key takes one vendor key for life;\n" +
        "provisioning again with the same one changes nothing, another is refused (KEY_ALREADY_PROVISIONED) until\n" +
        "the key is wiped on its board. Needs access to the key's hidraw node (root, or the keybridge group).\n" +
        example(
          "keybridge vendor provision --public-key vendor.pub",
          "keybridge vendor provision --key vendor.key --serial KB-0001",
        ),
    )
    .action(async (options: { serial?: string; publicKey?: string; key?: string }, command: Command) => {
      const vendorKey =
        options.publicKey !== undefined
          ? readVendorPublicKey(options.publicKey)
          : readVendorSecret(secretFile(options.key)).publicKey;
      const station = await loadStation();
      const outcome = await station.provisionAttachedKey(
        vendorKey,
        options.serial === undefined ? {} : { serial: options.serial },
      );
      const publicKey = toHex(vendorKey);
      print(
        command,
        {
          serial: outcome.serial,
          provisioned: outcome.provisioned,
          vendorPublicKey: publicKey,
          updateCounter: outcome.vendor.updateCounter,
        },
        outcome.provisioned
          ? `Key ${outcome.serial} provisioned with vendor ${publicKey}.\n`
          : `Key ${outcome.serial} was already provisioned with vendor ${publicKey} ` +
              `(update counter ${outcome.vendor.updateCounter}); nothing changed.\n`,
      );
    });

  vendor
    .command("apply")
    .description("factory station: apply an update file to the key it names, attached over USB")
    .argument("<file>", `a license update file (${UPDATE_FILE_EXTENSION})`)
    .addHelpText(
      "after",
      "\nFor keys that are not in service yet (a key holding borrows is refused: the update would turn them into\n" +
        "borrow dummies). A key in service gets its updates on its license server (keybridge license-update).\n" +
        example("keybridge vendor apply KB-0001-1.kblu"),
    )
    .action(async (file: string, _options: unknown, command: Command) => {
      const update = readUpdateFile(file);
      const station = await loadStation();
      const outcome = await station.applyUpdateToAttachedKey(update, Uint8Array.from(randomBytes(16)));
      print(
        command,
        {
          serial: outcome.serial,
          counter: outcome.result.updateCounter,
          licenseSetVersion: outcome.result.licenseSetVersion,
          dummiesCreated: outcome.result.dummiesCreated,
          changes: outcome.changes,
        },
        `Key ${outcome.serial}: update ${outcome.result.updateCounter} applied (license set version ` +
          `${outcome.result.licenseSetVersion}).\n` +
          (outcome.changes.length === 0
            ? "  the license set is unchanged\n"
            : outcome.changes.map((change) => `  ${changeText(change)}\n`).join("")),
      );
    });
}
