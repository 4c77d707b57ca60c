import { Value } from "@sinclair/typebox/value";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BorrowRequestInput, LicenseInput } from "../../../src/bridge/api.js";
import { validateBorrowRequest } from "../../../src/bridge/borrow-service.js";
import { validateLicenses } from "../../../src/bridge/guard/license-input.js";
import type { OpenedBridge } from "../../../src/bridge/open.js";
import { isCodedError } from "../../../src/errors.js";
import { createServer, type KeybridgeServer } from "../../../src/server/app.js";
import { toProblem } from "../../../src/server/problem.js";
import { BorrowRequestSchema, LicenseUpdateRequestSchema } from "../../../src/server/schemas.js";
import { MAX_BORROW_DAYS, MAX_PRODUCT, MAX_SEATS } from "../../../src/vocabulary/index.js";
import { openVirtual } from "../bridge/helpers.js";

// The schema the server validates with and the bridge's own check are two implementations of one
// bound each; a request one accepts and the other refuses would be a 400 from one door and a
// success (or a 500) from the other. These tests hold them to the same verdict.

const TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv";
let bridge: OpenedBridge;
let server: KeybridgeServer;
let url: string;
beforeEach(async () => {
  bridge = await openVirtual();
  server = await createServer({ bridge, token: TOKEN });
  url = await server.listen("127.0.0.1", 0);
});
afterEach(async () => {
  await server.close();
});

const post = (path: string, json: unknown) =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(json),
  });

/** The bridge's verdict: true when it accepts, false when it refuses the input as invalid (VALIDATION). */
function bridgeAccepts(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch (error) {
    expect(isCodedError(error) && error.code).toBe("VALIDATION");
    return false;
  }
}

describe("the bridge and the API schema refuse the same values", () => {
  it(`days ${MAX_BORROW_DAYS + 1} is a 400 from the API and from the library`, async () => {
    const request = { product: 1001, client: "ws-07", days: MAX_BORROW_DAYS + 1 };
    const response = await post("/v1/borrows", request);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "VALIDATION", field: "days" });

    const refused = await bridge.borrow(request).catch((error: unknown) => error);
    expect(isCodedError(refused) && refused.code).toBe("VALIDATION");
    expect(toProblem(refused).problem).toMatchObject({ status: 400, code: "VALIDATION" });
    expect(await bridge.borrows()).toEqual([]);
  });

  it(`a license with borrowDays ${MAX_BORROW_DAYS + 1} or ${MAX_SEATS + 1} seats is a 400 from both`, async () => {
    for (const license of [
      { product: 1001, seats: 10, borrowable: 4, borrowDays: MAX_BORROW_DAYS + 1 },
      { product: 1001, seats: MAX_SEATS + 1, borrowable: 4, borrowDays: 30 },
    ]) {
      const response = await post("/v1/keys/KB-DEMO-0001/license-update", { licenses: [license] });
      expect(response.status, JSON.stringify(license)).toBe(400);
      const refused = await bridge.licenseUpdate("KB-DEMO-0001", [license]).catch((error: unknown) => error);
      expect(toProblem(refused).problem, JSON.stringify(license)).toMatchObject({ status: 400, code: "VALIDATION" });
    }
  });

  it("borrow requests around every numeric bound get one verdict", () => {
    const around = (max: number) =>
      fc.oneof(fc.integer({ min: -2, max: 2 }), fc.integer({ min: max - 2, max: max + 2 }));
    fc.assert(
      fc.property(around(MAX_PRODUCT), fc.option(around(MAX_BORROW_DAYS), { nil: undefined }), (product, days) => {
        const request = { product, client: "ws-07", ...(days === undefined ? {} : { days }) } as BorrowRequestInput;
        expect(bridgeAccepts(() => validateBorrowRequest(request))).toBe(Value.Check(BorrowRequestSchema, request));
      }),
    );
  });

  it("license sets around every numeric bound get one verdict", () => {
    const around = (max: number) =>
      fc.oneof(fc.integer({ min: -2, max: 2 }), fc.integer({ min: max - 2, max: max + 2 }));
    const license = fc.record({
      product: around(MAX_PRODUCT),
      seats: around(MAX_SEATS),
      borrowable: around(MAX_SEATS),
      borrowDays: around(MAX_BORROW_DAYS),
    });
    fc.assert(
      fc.property(fc.array(license, { maxLength: 3 }), (licenses: LicenseInput[]) => {
        // Two rules no JSON schema states: products are distinct and borrowable is at most seats.
        const products = new Set(licenses.map((l) => l.product));
        fc.pre(products.size === licenses.length && licenses.every((l) => l.borrowable <= l.seats));
        const body = { licenses };
        expect(bridgeAccepts(() => validateLicenses(body))).toBe(Value.Check(LicenseUpdateRequestSchema, body));
      }),
    );
  });

  it("a client name the bridge accepts, the schema accepts (the bridge also counts bytes)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), (client) => {
        const request = { product: 1001, client };
        if (bridgeAccepts(() => validateBorrowRequest(request))) {
          expect(Value.Check(BorrowRequestSchema, request)).toBe(true);
        }
      }),
    );
  });
});
