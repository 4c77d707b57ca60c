import {
  AppCommand,
  Borrow,
  type BorrowRequest,
  BROADCAST_CID,
  encodeFrames,
  encodeInitRequest,
  encodeInitResponse,
  encodeLicenseUpdateFile,
  encodeRequestEnvelope,
  encodeResponseEnvelope,
  FRAME_COMMAND_FLAG,
  FrameCommand,
  GetInfo,
  type KeyInfo,
  LICENSE_UPDATE_CONTEXT,
  licenseUpdateSignedBytes,
  PROTOCOL_VERSION,
  Provision,
  REPORT_SIZE,
  type SignedLicenseUpdate,
  SignedLicenseUpdateCommand,
  Status,
  signLicenseUpdate,
  signResponse,
  toHex,
  type UnsignedLicenseUpdate,
} from "../../../src/protocol/index.js";
import {
  counting,
  EXAMPLE_CID,
  EXAMPLE_TIME,
  exampleKey,
  examplePublicKey,
  exampleVendorKey,
  exampleVendorPublicKey,
} from "./fixtures.js";

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
  capabilities: 0x2f,
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

const PROVISION_NONCE = counting(16, 0xd0);
const UPDATE_NONCE = counting(16, 0xe0);

export const EXAMPLE_UPDATE: UnsignedLicenseUpdate = {
  serial: "KB-0001",
  counter: 1,
  licenses: [{ product: 7, seats: 10, borrowable: 4, borrowDays: 30 }],
};
export const EXAMPLE_UPDATE_OP_ID = counting(16, 0x30);

export function exampleSignedUpdate(): SignedLicenseUpdate {
  return signLicenseUpdate(exampleVendorKey, EXAMPLE_UPDATE);
}

/** A byte string that is not a frame, with its fields and a hex dump. */
function renderBytes(title: string, bytes: Uint8Array, fields: ReadonlyArray<readonly [string, number]>): string {
  const lines = [`${title}, ${bytes.length} bytes`, "  fields:"];
  let offset = 0;
  for (const [name, size] of fields) {
    lines.push(`    ${String(offset).padStart(4)}  ${name.padEnd(18)} ${toHex(bytes.subarray(offset, offset + size))}`);
    offset += size;
  }
  if (offset !== bytes.length) throw new Error(`fields of "${title}" cover ${offset} of ${bytes.length} bytes`);
  lines.push("  bytes:");
  for (let row = 0; row < bytes.length; row += 16) {
    lines.push(`    ${row.toString(16).padStart(4, "0")}  ${hexBytes(bytes.subarray(row, row + 16))}`);
  }
  return lines.join("\n");
}

const SERIAL_FIELDS: ReadonlyArray<readonly [string, number]> = [
  ["serial length", 1],
  [`serial "${EXAMPLE_UPDATE.serial}"`, Buffer.byteLength(EXAMPLE_UPDATE.serial)],
];
const UPDATE_FIELDS: ReadonlyArray<readonly [string, number]> = [
  ...SERIAL_FIELDS,
  ["counter", 4],
  ["license count", 2],
  ["license product 7", 10],
];

/** PROVISION of KB-0001 with the example vendor key, and the key's answer. */
export function provisionExchange(): string {
  const request = { serial: EXAMPLE_UPDATE.serial, vendorPublicKey: exampleVendorPublicKey };
  const body = Provision.encodeResponse({
    provisioned: true,
    vendorPublicKey: exampleVendorPublicKey,
    updateCounter: 0,
  });
  const signature = signResponse(exampleKey, PROVISION_NONCE, AppCommand.PROVISION, Status.OK, body);
  return render([
    {
      direction: "host → key",
      title: "MSG PROVISION request",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: encodeRequestEnvelope({
        nonce: PROVISION_NONCE,
        command: AppCommand.PROVISION,
        body: Provision.encodeRequest(request),
      }),
      fields: [["nonce", 16], ["command PROVISION", 1], ...SERIAL_FIELDS, ["vendor public key", 32]],
    },
    {
      direction: "key → host",
      title: "MSG PROVISION response, status OK, signed",
      cid: EXAMPLE_CID,
      cmd: FrameCommand.MSG,
      payload: encodeResponseEnvelope({ command: AppCommand.PROVISION, status: Status.OK, body, signature }),
      fields: [
        ["command PROVISION", 1],
        ["status OK", 1],
        ["provisioned", 1],
        ["vendor public key", 32],
        ["update counter", 4],
        ["signature", 64],
      ],
    },
  ]);
}

/** What the vendor signs, and the signed update as the request carries it. */
export function signedUpdateExample(): string {
  const signed = exampleSignedUpdate();
  const body = SignedLicenseUpdateCommand.encodeRequest({ opId: EXAMPLE_UPDATE_OP_ID, update: signed });
  return [
    renderBytes("bytes the vendor signs", licenseUpdateSignedBytes(EXAMPLE_UPDATE), [
      [`"${LICENSE_UPDATE_CONTEXT}"`, LICENSE_UPDATE_CONTEXT.length],
      ...UPDATE_FIELDS,
    ]),
    render([
      {
        direction: "host → key",
        title: "MSG SIGNED_LICENSE_UPDATE request",
        cid: EXAMPLE_CID,
        cmd: FrameCommand.MSG,
        payload: encodeRequestEnvelope({ nonce: UPDATE_NONCE, command: AppCommand.SIGNED_LICENSE_UPDATE, body }),
        fields: [["nonce", 16], ["command 0x0b", 1], ["opId", 16], ...UPDATE_FIELDS, ["vendor signature", 64]],
      },
    ]),
  ].join("\n\n");
}

/** The same signed update as a file. */
export function updateFileExample(): string {
  return renderBytes("license update file KB-0001-1.kblu", encodeLicenseUpdateFile(exampleSignedUpdate()), [
    ['magic "KBLU"', 4],
    ["file version", 1],
    ...UPDATE_FIELDS,
    ["vendor signature", 64],
  ]);
}

/** Name → rendered text of every worked example in PROTOCOL.md. */
export function workedExamples(): Record<string, string> {
  return {
    "get-info": getInfoExchange(),
    borrow: borrowRequestReports(),
    provision: provisionExchange(),
    "signed-update": signedUpdateExample(),
    "update-file": updateFileExample(),
  };
}
