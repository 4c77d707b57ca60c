import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  AppCommand,
  Borrow,
  Capability,
  decodeFrames,
  decodeInitRequest,
  decodeInitResponse,
  decodeLicenseUpdateFile,
  decodeRequestEnvelope,
  decodeResponseEnvelope,
  FrameCommand,
  FramingError,
  fromHex,
  GetInfo,
  HID_REPORT_DESCRIPTOR,
  KeepaliveStatus,
  licenseUpdateSignatureValid,
  MAX_MESSAGE_SIZE,
  ProtocolErrorCode,
  Status,
  toHex,
  verifyResponse,
} from "../../../src/protocol/index.js";
import { RFC8032_PUBLIC, RFC8032_VENDOR_PUBLIC } from "./fixtures.js";
import { EXAMPLE_BORROW, EXAMPLE_INFO, EXAMPLE_UPDATE, workedExamples } from "./worked-examples.js";

const DOC_PATH = fileURLToPath(new URL("../../../src/protocol/PROTOCOL.md", import.meta.url));

/** The fenced block between the markers of example `name`; group 1 is its text. */
function block(name: string): RegExp {
  return new RegExp(`<!-- example:${name}:begin -->\\n\`\`\`text\\n([\\s\\S]*?)\`\`\`\\n<!-- example:${name}:end -->`);
}

function fenced(name: string, text: string): string {
  return `<!-- example:${name}:begin -->\n\`\`\`text\n${text}\n\`\`\`\n<!-- example:${name}:end -->`;
}

/**
 * Set UPDATE_PROTOCOL_EXAMPLES=1 to rewrite the worked examples of PROTOCOL.md from the codecs
 * (after a deliberate wire change); without it, the test fails when they differ.
 */
if (process.env.UPDATE_PROTOCOL_EXAMPLES === "1") {
  let text = readFileSync(DOC_PATH, "utf8");
  for (const [name, rendered] of Object.entries(workedExamples())) {
    if (!block(name).test(text)) throw new Error(`PROTOCOL.md has no markers for example "${name}"`);
    text = text.replace(block(name), () => fenced(name, rendered));
  }
  writeFileSync(DOC_PATH, text);
}

const doc = readFileSync(DOC_PATH, "utf8");

function hex2(value: number): string {
  return `0x${value.toString(16).padStart(2, "0").toUpperCase()}`;
}

/** The text under `heading` up to the next heading of any level. */
function section(heading: string): string {
  const lines = doc.split("\n");
  const start = lines.findIndex((line) => line.startsWith("#") && line.replace(/^#+ /, "") === heading);
  if (start < 0) throw new Error(`PROTOCOL.md has no heading "${heading}"`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith("#"));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** The table row of `name` (in backticks, first cell) under `heading`, split into trimmed cells. */
function row(heading: string, name: string): string[] {
  const line = section(heading)
    .split("\n")
    .find((candidate) => candidate.startsWith(`| \`${name}\``));
  if (line === undefined) throw new Error(`PROTOCOL.md has no row for ${name} under "${heading}"`);
  return line.split("|").map((cell) => cell.trim());
}

describe("PROTOCOL.md agrees with the code", () => {
  for (const [name, rendered] of Object.entries(workedExamples())) {
    it(`worked example "${name}" is the output of the real codecs`, () => {
      const match = block(name).exec(doc);
      expect(match, `markers of example ${name}`).not.toBeNull();
      expect(match![1]).toBe(`${rendered}\n`);
    });
  }

  it("the example reports, read back from the document, decode and verify with the published key", () => {
    const frames = (name: string) =>
      block(name)
        .exec(doc)![1]!
        .split("\n\n")
        .map((step) => {
          const rows = step.split("\n").filter((line) => /^ {4}[0-3]0 {2}/.test(line));
          const bytes = fromHex(rows.map((line) => line.slice(8).replace(/ /g, "")).join(""));
          const reports = Array.from({ length: bytes.length / 64 }, (_, i) => bytes.subarray(i * 64, i * 64 + 64));
          return decodeFrames(reports);
        });
    const [initRequest, initResponse, request, response] = frames("get-info");
    const init = decodeInitResponse(initResponse!.payload);
    expect(init.nonce).toEqual(decodeInitRequest(initRequest!.payload));
    expect(request!.cid).toBe(init.cid);
    const sent = decodeRequestEnvelope(request!.payload);
    const answer = decodeResponseEnvelope(response!.payload);
    verifyResponse(fromHex(RFC8032_PUBLIC), sent.nonce, answer.command, answer.status, answer.body, answer.signature);
    expect(GetInfo.decodeResponse(answer.body)).toEqual(EXAMPLE_INFO);
    const borrow = decodeRequestEnvelope(frames("borrow")[0]!.payload);
    expect(borrow.command).toBe(AppCommand.BORROW);
    expect(Borrow.decodeRequest(borrow.body)).toEqual(EXAMPLE_BORROW);
  });

  it("the example update file, read back from the document, verifies with the published vendor key", () => {
    const rows = block("update-file")
      .exec(doc)![1]!
      .split("\n")
      .filter((line) => /^ {4}[0-9a-f]{4} {2}/.test(line));
    const file = fromHex(rows.map((line) => line.slice(10).replace(/ /g, "")).join(""));
    const update = decodeLicenseUpdateFile(file);
    expect(update).toEqual({ ...EXAMPLE_UPDATE, signature: update.signature });
    expect(licenseUpdateSignatureValid(update, fromHex(RFC8032_VENDOR_PUBLIC))).toBe(true);
    expect(licenseUpdateSignatureValid(update, fromHex(RFC8032_PUBLIC))).toBe(false);
  });

  it("every frame command, with its wire byte", () => {
    for (const [name, value] of Object.entries(FrameCommand)) {
      expect(row("Frame commands", name)[2], name).toBe(`${hex2(value)} (${hex2(value | 0x80)} on the wire)`);
    }
  });

  it("every application command, status, framing error, keepalive status and capability, with its value", () => {
    const tables: Array<[string, Record<string, number>]> = [
      ["8. Application commands", AppCommand],
      ["9. Status codes", Status],
      ["5. ERROR frames", FramingError],
      ["KEEPALIVE", KeepaliveStatus],
    ];
    for (const [heading, table] of tables) {
      for (const [name, value] of Object.entries(table)) expect(row(heading, name)[2], name).toBe(hex2(value));
    }
    for (const [name, value] of Object.entries(Capability)) {
      expect(row("10.2 Capability bits", name)[2], name).toBe(`bit ${Math.log2(value)} (${hex2(value)})`);
    }
  });

  it("every host-side error code is described", () => {
    for (const code of Object.values(ProtocolErrorCode)) expect(doc).toContain(`\`${code}\``);
  });

  it("the report descriptor bytes and the maximum message size", () => {
    const descriptorHex = toHex(HID_REPORT_DESCRIPTOR).replace(/(..)/g, "$1 ").trim();
    expect(doc.replace(/\s+/g, " ")).toContain(descriptorHex);
    expect(doc).toContain(`${MAX_MESSAGE_SIZE} bytes`);
  });
});
