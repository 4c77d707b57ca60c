import {
  AppCommand,
  Borrow,
  type BorrowRequest,
  BROADCAST_CID,
  encodeFrames,
  encodeInitRequest,
  encodeInitResponse,
  encodeRequestEnvelope,
  encodeResponseEnvelope,
  FRAME_COMMAND_FLAG,
  FrameCommand,
  GetInfo,
  type KeyInfo,
  PROTOCOL_VERSION,
  REPORT_SIZE,
  Status,
  signResponse,
  toHex,
} from "../../../src/protocol/index.js";
import { counting, EXAMPLE_CID, EXAMPLE_TIME, exampleKey, examplePublicKey } from "./fixtures.js";

/**
 * The worked examples of PROTOCOL.md, built with the real codecs and a published key pair
 * (RFC 8032 test 1) so that every byte, the signature included, can be reproduced.
 */

interface Step {
  readonly direction: "host → key" | "key → host";
  readonly title: string;
  readonly cid: number;
  readonly cmd: number;
  readonly payload: Uint8Array;
  /** The payload split into named fields, in order; must cover it exactly. */
  readonly fields: ReadonlyArray<readonly [string, number]>;
}

const FRAME_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(FrameCommand).map(([name, value]) => [value, name]),
);

function hexBytes(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
}

function renderStep(step: Step): string {
  const reports = encodeFrames(step.cid, step.cmd, step.payload);
  const wireCmd = step.cmd | FRAME_COMMAND_FLAG;
  const lines = [
    `${step.direction}: ${step.title}`,
    `  CID ${step.cid.toString(16).padStart(8, "0")}, CMD 0x${wireCmd.toString(16)} (${FRAME_NAMES[step.cmd]}), ` +
      `BCNT ${step.payload.length}, ${reports.length} report${reports.length === 1 ? "" : "s"}`,
    "  payload:",
  ];
  let offset = 0;
  for (const [name, size] of step.fields) {
    const value = step.payload.subarray(offset, offset + size);
    lines.push(`    ${String(offset).padStart(4)}  ${name.padEnd(18)} ${toHex(value)}`);
    offset += size;
  }
  if (offset !== step.payload.length)
    throw new Error(`fields of "${step.title}" cover ${offset} of ${step.payload.length} bytes`);
  reports.forEach((report, index) => {
    const kind = index === 0 ? "init packet" : `continuation packet, SEQ ${index - 1}`;
    lines.push(`  report ${index + 1} (${kind}):`);
    for (let row = 0; row < REPORT_SIZE; row += 16) {
      lines.push(`    ${row.toString(16).padStart(2, "0")}  ${hexBytes(report.subarray(row, row + 16))}`);
    }
  });
  return lines.join("\n");
}

function render(steps: readonly Step[]): string {
  return steps.map(renderStep).join("\n\n");
}

const INIT_NONCE = Uint8Array.of(0x8a, 0x3d, 0x5f, 0x10, 0xc2, 0xe7, 0x41, 0x96);
const GET_INFO_NONCE = counting(16, 0xa0);
const BORROW_NONCE = counting(16, 0xc0);

export const EXAMPLE_INFO: KeyInfo = {
  serial: "KB-0001",
  firmwareVersion: "1.0.0",
  protocolVersion: PROTOCOL_VERSION,
  capabilities: 0x1f,
  licenseSetVersion: 1,
  publicKey: examplePublicKey,
  keyTimeMs: EXAMPLE_TIME,
  settleWindowMs: 86_400_000,
};

export const EXAMPLE_BORROW: BorrowRequest = {
  opId: counting(16, 0x10),
  product: 7,
  days: 30,
  binding: counting(32, 0x20),
  tag: counting(16, 0x40),
  client: "ws-042.example",
};

/** INIT, then GET_INFO: four messages, every report. */
export function getInfoExchange(): string {
  const body = GetInfo.encodeResponse(EXAMPLE_INFO);
  const signature = signResponse(exampleKey, GET_INFO_NONCE, AppCommand.GET_INFO, Status.OK, body);
  const serialBytes = Buffer.byteLength(EXAMPLE_INFO.serial);
  return render([
    {
      direction: "host → key",
      title: "INIT on the broadcast channel",
      cid: BROADCAST_CID,
      cmd: FrameCommand.INIT,
      payload: encodeInitRequest(INIT_NONCE),
      fields: [["nonce", 8]],
    },
    {
      direction: "key → host",
      title: "INIT answer on the broadcast channel, allocating channel 1a2b3c4d",
      cid: BROADCAST_CID,
      cmd: FrameCommand.INIT,
      payload: encodeInitResponse({
        nonce: INIT_NONCE,
        cid: EXAMPLE_CID,
        protocolVersion: PROTOCOL_VERSION,
        firmwareVersion: EXAMPLE_INFO.firmwareVersion,
        capabilities: EXAMPLE_INFO.capabilities,
      }),
      fields: [
        ["nonce (echo)", 8],
        ["cid", 4],
        ["protocol version", 1],
        ["firmware 1.0.0", 3],
        ["capabilities", 4],
      ],
    },
    {
      direction: "host → key",
      title: "MSG GET_INFO request",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: encodeRequestEnvelope({ nonce: GET_INFO_NONCE, command: AppCommand.GET_INFO, body: new Uint8Array(0) }),
      fields: [
        ["nonce", 16],
        ["command GET_INFO", 1],
      ],
    },
    {
      direction: "key → host",
      title: "MSG GET_INFO response, status OK, signed",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: encodeResponseEnvelope({ command: AppCommand.GET_INFO, status: Status.OK, body, signature }),
      fields: [
        ["command GET_INFO", 1],
        ["status OK", 1],
        ["serial length", 1],
        [`serial "${EXAMPLE_INFO.serial}"`, serialBytes],
        ["firmware 1.0.0", 3],
        ["protocol version", 1],
        ["capabilities", 4],
        ["license-set ver.", 4],
        ["public key", 32],
        ["key time (ms)", 8],
        ["settle window (ms)", 4],
        ["signature", 64],
      ],
    },
  ]);
}

/** A BORROW request that needs one continuation packet. */
export function borrowRequestReports(): string {
  const body = Borrow.encodeRequest(EXAMPLE_BORROW);
  return render([
    {
      direction: "host → key",
      title: `MSG BORROW request (product 7, 30 days, client "${EXAMPLE_BORROW.client}")`,
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: encodeRequestEnvelope({ nonce: BORROW_NONCE, command: AppCommand.BORROW, body }),
      fields: [
        ["nonce", 16],
        ["command BORROW", 1],
        ["opId", 16],
        ["product", 4],
        ["days", 2],
        ["binding", 32],
        ["tag", 16],
        ["client length", 1],
        ["client", Buffer.byteLength(EXAMPLE_BORROW.client)],
      ],
    },
  ]);
}

/** Name → rendered text of every worked example in PROTOCOL.md. */
export function workedExamples(): Record<string, string> {
  return { "get-info": getInfoExchange(), borrow: borrowRequestReports() };
}
