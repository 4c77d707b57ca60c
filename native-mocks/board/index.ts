/**
 * A keybridge key on a Linux board with a USB device controller: what `keybridge key ...` runs.
 * The firmware is the reference key of native-mocks/firmware, served on the configfs HID gadget.
 */
export { GadgetError, type GadgetParameters, type GadgetPortEvent } from "../gadget-port.js";
export { answerControl, type ControlMessage, type ControlReply } from "./control.js";
export { BoardKeyError, BoardKeyErrorCode } from "./errors.js";
export {
  DEFAULT_DEVICE,
  DEFAULT_GADGET_DIR,
  DEFAULT_UDC_DIR,
  type GadgetState,
  gadgetState,
  resolveUdc,
  type SetupOptions,
  type SetupResult,
  setupGadget,
  teardownGadget,
} from "./gadget.js";
export { DEFAULT_STATE_PATH, type InitResult, initKey, readKey, removeTempFiles, wipeKey } from "./key-file.js";
export { lockOwner } from "./lock.js";
export { type ServeKeyOptions, type ServingKey, serveKey } from "./serve.js";
export { type BoardKeyStatus, keyStatus } from "./status.js";
