import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bindingHex,
  canonicalJson,
  computeBinding,
  diffIdentity,
  type HostIdentity,
  sameBinding,
} from "../../../src/host/index.js";
import { sampleIdentity } from "./fixtures.js";

const ipv4 = fc.ipV4();
const identityArb: fc.Arbitrary<HostIdentity> = fc.record({
  ips: fc.uniqueArray(fc.oneof(ipv4, fc.ipV6()), { minLength: 0, maxLength: 5 }),
  hostname: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
  machineId: fc.stringMatching(/^[0-9a-f]{32}$/),
  osInstallId: fc.stringMatching(/^[0-9a-f]{32}$/),
  driver: fc.record({ nodeHid: fc.constant("3.4.0"), codeMeterRuntime: fc.option(fc.string(), { nil: undefined }) }),
  runtime: fc.constant({ node: "20.0.0", platform: "linux" as const, arch: "x64", osRelease: "6.1" }),
});

describe("canonicalJson", () => {
  it("sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 0 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"y":0,"z":1}]},"b":1}',
    );
  });
});

describe("computeBinding", () => {
  it("is SHA-256 of the canonical JSON of ips, hostname and machine id by default", () => {
    const identity = sampleIdentity({ ips: ["192.0.2.10"], hostname: "h", machineId: "m" });
    const expected = createHash("sha256").update('{"hostname":"h","ips":["192.0.2.10"],"machineId":"m"}').digest();
    const binding = computeBinding(identity);
    expect(binding).toHaveLength(32);
    expect(bindingHex(binding)).toBe(expected.toString("hex"));
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(identityArb, (identity) => {
        expect(computeBinding(structuredClone(identity))).toEqual(computeBinding(identity));
      }),
    );
  });

  it("does not depend on the order or repetition of IP addresses", () => {
    fc.assert(
      fc.property(identityArb, fc.integer(), (identity, seed) => {
        const shuffled = [...identity.ips, ...identity.ips.slice(0, 1)].sort(
          (a, b) => ((a.length * seed) % 7) - ((b.length * seed) % 7) || b.localeCompare(a),
        );
        expect(sameBinding(identity, { ...identity, ips: shuffled })).toBe(true);
      }),
    );
  });

  it("changes when any bound component changes", () => {
    const bound = fc.constantFrom("ips" as const, "hostname" as const, "machineId" as const);
    fc.assert(
      fc.property(identityArb, identityArb, bound, (a, b, component) => {
        const changed = { ...a, [component]: b[component] };
        fc.pre(diffIdentity(a, changed).length > 0);
        expect(sameBinding(a, changed)).toBe(false);
      }),
    );
  });

  it("changes when one IP address is added, removed or replaced", () => {
    fc.assert(
      fc.property(identityArb, ipv4, (identity, extra) => {
        fc.pre(!identity.ips.includes(extra));
        expect(sameBinding(identity, { ...identity, ips: [...identity.ips, extra] })).toBe(false);
        if (identity.ips.length > 0) {
          expect(sameBinding(identity, { ...identity, ips: identity.ips.slice(1) })).toBe(false);
          expect(sameBinding(identity, { ...identity, ips: [extra, ...identity.ips.slice(1)] })).toBe(false);
        }
      }),
    );
  });

  it("ignores components that are not selected, and honours selected ones", () => {
    const before = sampleIdentity();
    const reinstalled = { ...before, osInstallId: "ffffffffffffffffffffffffffffffff" };
    expect(sameBinding(before, reinstalled)).toBe(true);
    expect(sameBinding(before, reinstalled, ["ips", "hostname", "machineId", "osInstallId"])).toBe(false);
  });
});

describe("diffIdentity", () => {
  it("reports nothing for the same identity with IPs in another order", () => {
    const a = sampleIdentity();
    expect(diffIdentity(a, { ...a, ips: [...a.ips].reverse() })).toEqual([]);
  });

  it("names each changed component with its before and after values", () => {
    const a = sampleIdentity();
    const b = sampleIdentity({ ips: ["192.0.2.99"], hostname: "renamed", driver: { nodeHid: "3.4.0", usb: "2.18.0" } });
    expect(diffIdentity(a, b)).toEqual([
      { component: "ips", before: a.ips, after: ["192.0.2.99"] },
      { component: "hostname", before: "cad-license-01", after: "renamed" },
      { component: "driver", before: a.driver, after: b.driver },
    ]);
  });

  it("treats an absent driver version like an undefined one", () => {
    const a = sampleIdentity({ driver: { nodeHid: "3.4.0", codeMeterRuntime: undefined } });
    expect(diffIdentity(a, sampleIdentity({ driver: { nodeHid: "3.4.0" } }))).toEqual([]);
  });
});
