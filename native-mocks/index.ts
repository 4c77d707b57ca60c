export { DAY_MS, DEFAULT_SETTLE_WINDOW_MS } from "../src/protocol/index.js";
export * from "./codemeter-stick.js";
export * from "./demo.js";
export * from "./errors.js";
export {
  type HoldRequest,
  KEEPALIVE_INTERVAL_MS,
  KeyFirmware,
  type KeyFirmwareOptions,
  type KeySnapshot,
  MAX_CHANNELS,
  MESSAGE_TIMEOUT_MS,
} from "./firmware/firmware.js";
export {
  DEFAULT_FIRMWARE_VERSION,
  JOURNAL_LIMIT,
  type KeyStateDocument,
  MAX_CLOCK_OFFSET_MS,
  type NewKeyOptions,
} from "./firmware/key-state.js";
export { KEY_CAPABILITIES } from "./firmware/rules.js";
export * from "./host-port.js";
export * from "./key-store.js";
export * from "./node-hid-stand-in.js";
export * from "./usb-stand-in.js";
export * from "./virtual-bus.js";
export * from "./virtual-key.js";
