/**
 * Every number of the keybridge HID protocol, version 1. PROTOCOL.md beside this file is the
 * normative description; these constants are its single source in code (the virtual key, the
 * gadget port and the udev rules generator all read them from here).
 */

/** USB identity of keybridge-protocol keys. */
export const USB_VENDOR_ID = 0x1209; // pid.codes
export const USB_PRODUCT_ID = 0x0001; // pid.codes test PID until one is assigned
export const HID_USAGE_PAGE = 0xff4b; // vendor-defined
export const HID_USAGE = 0x01;

/** Known CodeMeter sticks: recognised and watched, never spoken to. */
export const CODEMETER_VENDOR_ID = 0x064f;
export const CODEMETER_PRODUCT_IDS: ReadonlyArray<{ pid: number; model: string }> = [
  { pid: 0x03e9, model: "CmStick (mass storage)" },
  { pid: 0x04f9, model: "CmStick (mass storage)" },
  { pid: 0x03f2, model: "CmStick/M" },
  { pid: 0x03f3, model: "CmStick/M" },
  { pid: 0x03f4, model: "CmStick/M" },
  { pid: 0x2af9, model: "CmStick (HID)" },
  { pid: 0x5213, model: "CmStick/M3 (composite)" },
  { pid: 0x2b03, model: "CmStick/M3 (HID)" },
];

/** HID report descriptor of a keybridge key: one 64-byte input and one 64-byte output report, no report ids. */
export const HID_REPORT_DESCRIPTOR: Readonly<Uint8Array> = Uint8Array.from([
  0x06,
  0x4b,
  0xff, // Usage Page (Vendor 0xFF4B)
  0x09,
  0x01, //       Usage (0x01)
  0xa1,
  0x01, //       Collection (Application)
  0x09,
  0x02, //         Usage (0x02) input
  0x15,
  0x00, //         Logical Minimum (0)
  0x26,
  0xff,
  0x00, //   Logical Maximum (255)
  0x75,
  0x08, //         Report Size (8)
  0x95,
  0x40, //         Report Count (64)
  0x81,
  0x02, //         Input (Data, Var, Abs)
  0x09,
  0x03, //         Usage (0x03) output
  0x15,
  0x00, //         Logical Minimum (0)
  0x26,
  0xff,
  0x00, //   Logical Maximum (255)
  0x75,
  0x08, //         Report Size (8)
  0x95,
  0x40, //         Report Count (64)
  0x91,
  0x02, //         Output (Data, Var, Abs)
  0xc0, //             End Collection
]);

export const PROTOCOL_VERSION = 1;

/** Size of every HID report, both directions, without the report-id byte some OS APIs prepend. */
export const REPORT_SIZE = 64;
/** Init packet: CID(4) CMD(1) BCNT(2) then data. */
export const INIT_HEADER_SIZE = 7;
export const INIT_DATA_SIZE = REPORT_SIZE - INIT_HEADER_SIZE; // 57
/** Continuation packet: CID(4) SEQ(1) then data. */
export const CONT_HEADER_SIZE = 5;
export const CONT_DATA_SIZE = REPORT_SIZE - CONT_HEADER_SIZE; // 59
/** Sequence numbers run 0..127 (bit 7 clear distinguishes continuation from init packets). */
export const MAX_SEQUENCE = 0x7f;
/** Largest message: one init packet plus 128 continuation packets. */
export const MAX_MESSAGE_SIZE = INIT_DATA_SIZE + (MAX_SEQUENCE + 1) * CONT_DATA_SIZE; // 7609

export const BROADCAST_CID = 0xffffffff;
/** CID 0 is reserved and never allocated. */
export const RESERVED_CID = 0x00000000;

/** Framing-level commands (the CMD byte of an init packet, bit 7 set on the wire). */
export const FrameCommand = {
  /** Application message: request or response, see AppCommand. */
  MSG: 0x03,
  /** Channel allocation on the broadcast CID, answered with the new CID. */
  INIT: 0x06,
  /** Abort the request pending on this channel. No reply of its own. */
  CANCEL: 0x11,
  /** Key is still working (or busy with another channel): sent at least every 100 ms. */
  KEEPALIVE: 0x3b,
  /** Framing error; payload is one FramingError byte. */
  ERROR: 0x3f,
} as const;
export type FrameCommand = (typeof FrameCommand)[keyof typeof FrameCommand];

export const FRAME_COMMAND_FLAG = 0x80;

export const KeepaliveStatus = { PROCESSING: 0x01, BUSY: 0x02 } as const;
export type KeepaliveStatus = (typeof KeepaliveStatus)[keyof typeof KeepaliveStatus];

export const FramingError = {
  INVALID_CMD: 0x01,
  INVALID_PAR: 0x02,
  INVALID_LEN: 0x03,
  INVALID_SEQ: 0x04,
  MSG_TIMEOUT: 0x05,
  CHANNEL_BUSY: 0x06,
  INVALID_CHANNEL: 0x0b,
  OTHER: 0x7f,
} as const;
export type FramingError = (typeof FramingError)[keyof typeof FramingError];

/** Application commands carried in MSG. */
export const AppCommand = {
  GET_INFO: 0x01,
  LIST_LICENSES: 0x02,
  BORROW: 0x03,
  SETTLE: 0x04,
  REBIND: 0x05,
  LIST_BORROWS: 0x06,
  LICENSE_UPDATE: 0x07,
  GET_TIME: 0x08,
  PING: 0x09,
  OP_STATUS: 0x0a,
  SIGNED_LICENSE_UPDATE: 0x0b,
  PROVISION: 0x0c,
  VENDOR_INFO: 0x0d,
} as const;
export type AppCommand = (typeof AppCommand)[keyof typeof AppCommand];

export const Status = {
  OK: 0x00,
  BAD_REQUEST: 0x01,
  UNKNOWN_COMMAND: 0x02,
  NO_BORROWABLE: 0x03,
  UNKNOWN_BORROW: 0x04,
  UNKNOWN_PRODUCT: 0x05,
  REBIND_REFUSED: 0x06,
  NOT_ACTIVE: 0x07,
  BUSY: 0x08,
  STORAGE_FULL: 0x09,
  CANCELLED: 0x0a,
  INTERNAL: 0x0b,
  NOT_PROVISIONED: 0x0c,
  WRONG_SERIAL: 0x0d,
  BAD_VENDOR_SIGNATURE: 0x0e,
  STALE_COUNTER: 0x0f,
  ALREADY_PROVISIONED: 0x10,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

export const STATUS_NAMES: Readonly<Record<Status, keyof typeof Status>> = Object.fromEntries(
  Object.entries(Status).map(([name, value]) => [value, name]),
) as Record<Status, keyof typeof Status>;

export const COMMAND_NAMES: Readonly<Record<AppCommand, keyof typeof AppCommand>> = Object.fromEntries(
  Object.entries(AppCommand).map(([name, value]) => [value, name]),
) as Record<AppCommand, keyof typeof AppCommand>;

/** Capability bits in the INIT response and GET_INFO. */
export const Capability = {
  REBIND: 1 << 0,
  OP_STATUS: 1 << 1,
  KEEPALIVE: 1 << 2,
  CANCEL: 1 << 3,
  /** The unsigned LICENSE_UPDATE command: keys that take only vendor-signed updates leave it clear. */
  LICENSE_UPDATE: 1 << 4,
  /** PROVISION, VENDOR_INFO and SIGNED_LICENSE_UPDATE: the license set changes only by the vendor's signature. */
  VENDOR_SIGNED: 1 << 5,
} as const;

/** Sizes of fixed fields. */
export const NONCE_SIZE = 16;
export const INIT_NONCE_SIZE = 8;
export const OP_ID_SIZE = 16;
export const BINDING_SIZE = 32;
export const TAG_SIZE = 16;
export const SIGNATURE_SIZE = 64;
export const PUBLIC_KEY_SIZE = 32;
export const MAX_CLIENT_BYTES = 64;
export const MAX_SERIAL_BYTES = 32;
export const MAX_LICENSES = 256;
/** Products are u32 on the wire. */
export const MAX_PRODUCT = 0xffff_ffff;
/** A license's seats and borrowable count are u16 on the wire. */
export const MAX_SEATS = 0xffff;
/** LIST_BORROWS returns at most this many records per page. */
export const MAX_BORROWS_PER_PAGE = 32;
export const MAX_PING_BYTES = 1024;
/** Highest update counter of a signed license update (u32 on the wire). */
export const MAX_UPDATE_COUNTER = 0xffffffff;
/** Longest BORROW period a license may declare. */
export const MAX_BORROW_DAYS = 365;
/** Borrow periods, a license's borrowDays and K4's dummy period count whole days of this many ms. */
export const DAY_MS = 86_400_000;
/** K4: how long after expiresAt a key waits for a settle before it makes a dummy, unless GET_TIME says otherwise. */
export const DEFAULT_SETTLE_WINDOW_MS = DAY_MS;
