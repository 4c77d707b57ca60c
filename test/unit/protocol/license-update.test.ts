import { sign } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeLicenseUpdateFile,
  diffLicenseSets,
  encodeLicenseUpdateFile,
  generateVendorKeyPair,
  judgeLicenseUpdate,
  LICENSE_UPDATE_CONTEXT,
  licenseUpdateSignatureValid,
  licenseUpdateSignedBytes,
  MAX_UPDATE_FILE_SIZE,
  ProtocolErrorCode,
  rawPublicKey,
  Status,
  signLicenseUpdate,
  toHex,
  vendorPublicKeyFromText,
  vendorPublicKeyToText,
  vendorSecretFromPem,
  vendorSecretToPem,
} from "../../../src/protocol/index.js";
import * as arb from "./arbitraries.js";
import { exampleVendorKey, exampleVendorPublicKey, RFC8032_VENDOR_PUBLIC } from "./fixtures.js";
import { bytesOf, hex, protocolErrorCode } from "./hex.js";

const UPDATE = {
  serial: "KB-0001",
  counter: 2,
  licenses: [
    { product: 7, seats: 10, borrowable: 4, borrowDays: 30 },
    { product: 8, seats: 2, borrowable: 1, borrowDays: 7 },
  ],
};

describe("the signed bytes", () => {
  it("are the context text, then serial, counter and license set as on the wire", () => {
    expect(toHex(licenseUpdateSignedBytes(UPDATE))).toBe(
      hex([
        Buffer.from(LICENSE_UPDATE_CONTEXT).toString("hex"),
        "07",
        Buffer.from("KB-0001").toString("hex"),
        "00000002",
        "0002",
        "00000007000a0004001e",
        "00000008000200010007",
      ]),
    );
  });

  it("a signature verifies with the vendor's public key and with no other", () => {
    const signed = signLicenseUpdate(exampleVendorKey, UPDATE);
    expect(licenseUpdateSignatureValid(signed, exampleVendorPublicKey)).toBe(true);
    expect(licenseUpdateSignatureValid(signed, generateVendorKeyPair().publicKey)).toBe(false);
  });

  it("a vendor signature over the same fields without the context text is no update signature", () => {
    const withoutContext = licenseUpdateSignedBytes(UPDATE).subarray(LICENSE_UPDATE_CONTEXT.length);
    const signature = new Uint8Array(sign(null, withoutContext, exampleVendorKey));
    expect(licenseUpdateSignatureValid({ ...UPDATE, signature }, exampleVendorPublicKey)).toBe(false);
  });

  it("changing any field after signing breaks the signature", () => {
    fc.assert(
      fc.property(arb.signedLicenseUpdate, arb.signedLicenseUpdate, (a, b) => {
        const signed = signLicenseUpdate(exampleVendorKey, a);
        const altered = { ...signed, serial: b.serial, counter: b.counter, licenses: b.licenses };
        const same =
          a.serial === b.serial && a.counter === b.counter && JSON.stringify(a.licenses) === JSON.stringify(b.licenses);
        expect(licenseUpdateSignatureValid(altered, exampleVendorPublicKey)).toBe(same);
      }),
      { numRuns: 50 },
    );
  });
});

describe("judgeLicenseUpdate: the key's verdict, in the key's order", () => {
  const signed = signLicenseUpdate(exampleVendorKey, UPDATE);
  const key = { serial: "KB-0001", vendorPublicKey: exampleVendorPublicKey, updateCounter: 1 };

  it("applies a valid update above the key's counter", () => {
    expect(judgeLicenseUpdate(signed, key)).toBeUndefined();
  });

  it("names each refusal", () => {
    expect(judgeLicenseUpdate(signed, { ...key, vendorPublicKey: undefined })?.status).toBe(Status.NOT_PROVISIONED);
    expect(judgeLicenseUpdate(signed, { ...key, serial: "KB-0002" })?.status).toBe(Status.WRONG_SERIAL);
    expect(judgeLicenseUpdate({ ...signed, counter: 3 }, key)?.status).toBe(Status.BAD_VENDOR_SIGNATURE);
    expect(judgeLicenseUpdate(signed, { ...key, updateCounter: 2 })?.status).toBe(Status.STALE_COUNTER);
  });
});

describe("the update file", () => {
  const signed = signLicenseUpdate(exampleVendorKey, UPDATE);

  it('is "KBLU", version 1, then the signed update', () => {
    const file = encodeLicenseUpdateFile(signed);
    expect(toHex(file.subarray(0, 5))).toBe("4b424c5501");
    expect(decodeLicenseUpdateFile(file)).toEqual(signed);
  });

  it("round-trips any update", () => {
    fc.assert(
      fc.property(arb.signedLicenseUpdate, (update) => {
        expect(decodeLicenseUpdateFile(encodeLicenseUpdateFile(update))).toEqual(update);
      }),
      { numRuns: 150 },
    );
  });

  it("a file cut short anywhere, or with a byte too many, is refused with a ProtocolError", () => {
    const file = encodeLicenseUpdateFile(signed);
    for (let length = 0; length < file.length; length++) {
      const code = protocolErrorCode(() => decodeLicenseUpdateFile(file.subarray(0, length)));
      expect([ProtocolErrorCode.TRUNCATED, ProtocolErrorCode.BAD_UPDATE_FILE], `cut at ${length}`).toContain(code);
    }
    expect(protocolErrorCode(() => decodeLicenseUpdateFile(Uint8Array.of(...file, 0)))).toBe(
      ProtocolErrorCode.TRUNCATED,
    );
  });

  it("another file, another version, an oversized file, a counter of 0 or 257 licenses are refused", () => {
    const file = encodeLicenseUpdateFile(signed);
    expect(protocolErrorCode(() => decodeLicenseUpdateFile(bytesOf("7b226c6963656e736573223a5b5d7d")))).toBe(
      ProtocolErrorCode.BAD_UPDATE_FILE,
    );
    const version2 = Uint8Array.from(file);
    version2[4] = 2;
    expect(protocolErrorCode(() => decodeLicenseUpdateFile(version2))).toBe(ProtocolErrorCode.BAD_UPDATE_FILE);
    expect(protocolErrorCode(() => decodeLicenseUpdateFile(new Uint8Array(MAX_UPDATE_FILE_SIZE + 1)))).toBe(
      ProtocolErrorCode.BAD_UPDATE_FILE,
    );
    const counterZero = Uint8Array.from(file);
    counterZero.set([0, 0, 0, 0], 5 + 1 + 7);
    expect(protocolErrorCode(() => decodeLicenseUpdateFile(counterZero))).toBe(ProtocolErrorCode.BAD_FIELD);
    const tooMany = Uint8Array.from(file);
    tooMany.set([0x01, 0x01], 5 + 1 + 7 + 4);
    expect(protocolErrorCode(() => decodeLicenseUpdateFile(tooMany))).toBe(ProtocolErrorCode.BAD_FIELD);
  });

  it("decoding random bytes throws only ProtocolError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
        const bytes = Uint8Array.of(0x4b, 0x42, 0x4c, 0x55, 0x01, ...tail);
        try {
          decodeLicenseUpdateFile(bytes);
        } catch (error) {
          expect((error as { name?: string }).name).toBe("ProtocolError");
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("diffLicenseSets", () => {
  it("names added, removed and changed products in product order, ignoring usage counts", () => {
    const before = [
      { product: 9, seats: 1, borrowable: 1, borrowDays: 1, borrowed: 1, dummies: 0 },
      { product: 7, seats: 10, borrowable: 3, borrowDays: 30, borrowed: 2, dummies: 1 },
      { product: 5, seats: 3, borrowable: 3, borrowDays: 3, borrowed: 2, dummies: 0 },
    ];
    const after = [...UPDATE.licenses, { product: 5, seats: 3, borrowable: 3, borrowDays: 3 }];
    expect(diffLicenseSets(before, after)).toEqual([
      {
        product: 7,
        change: "changed",
        before: { product: 7, seats: 10, borrowable: 3, borrowDays: 30 },
        after: UPDATE.licenses[0],
      },
      { product: 8, change: "added", after: UPDATE.licenses[1] },
      { product: 9, change: "removed", before: { product: 9, seats: 1, borrowable: 1, borrowDays: 1 } },
    ]);
    expect(diffLicenseSets(after, after)).toEqual([]);
  });
});

describe("vendor key text", () => {
  it("the secret goes through PEM and the public key through one line of hex", () => {
    const pair = generateVendorKeyPair();
    const read = vendorSecretFromPem(vendorSecretToPem(pair.secret));
    expect(read.publicKey).toEqual(pair.publicKey);
    expect(rawPublicKey(read.secret)).toEqual(pair.publicKey);
    expect(vendorPublicKeyFromText(vendorPublicKeyToText(pair.publicKey))).toEqual(pair.publicKey);
    expect(vendorPublicKeyFromText(` ${RFC8032_VENDOR_PUBLIC.toUpperCase()}\n`)).toEqual(exampleVendorPublicKey);
  });

  it("refuses what is not an Ed25519 secret or a 32-byte hex key", () => {
    expect(protocolErrorCode(() => vendorSecretFromPem("not a key"))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(protocolErrorCode(() => vendorPublicKeyFromText("abcd"))).toBe(ProtocolErrorCode.BAD_FIELD);
    expect(protocolErrorCode(() => vendorPublicKeyFromText(`${RFC8032_VENDOR_PUBLIC}00`))).toBe(
      ProtocolErrorCode.BAD_FIELD,
    );
  });
});
