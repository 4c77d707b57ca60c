// A CmStick beside the key: a second configfs HID gadget with WIBU's vendor id and the HID
// CmStick's product id (from the protocol constants keybridge recognises sticks by), on the second
// dummy controller. SYNTHETIC: nothing answers on its /dev/hidg node, and nothing should: keybridge
// lists CodeMeter sticks and never opens them. The guest's check codemeter-stick proves that.
//
//   node /kb/test/vm/guest/cmstick-gadget.mjs plug
import { readFileSync } from "node:fs";

const guest = JSON.parse(readFileSync("/etc/keybridge-vm/guest.json", "utf8"));
const { CODEMETER_VENDOR_ID, CODEMETER_PRODUCT_IDS } = await import("/kb/dist/src/protocol/constants.js");
const { bindGadget, writeGadgetConfig } = await import("/kb/dist/native-mocks/gadget-port.js");

const stick = guest.cmStick;
const hid = CODEMETER_PRODUCT_IDS.find((entry) => entry.model === "CmStick (HID)");
if (hid === undefined) fail("the protocol constants name no HID CmStick");

// A vendor-defined page with 64-byte input and output reports: a HID device the host binds
// hid-generic to, which gives it a hidraw node as a CmStick in HID mode has.
const REPORT_DESCRIPTOR = Uint8Array.from([
  0x06, 0x00, 0xff, 0x09, 0x01, 0xa1, 0x01, 0x15, 0x00, 0x26, 0xff, 0x00, 0x75, 0x08, 0x95, 0x40, 0x09, 0x01, 0x81,
  0x02, 0x09, 0x01, 0x91, 0x02, 0xc0,
]);

try {
  writeGadgetConfig(stick.configfsDir, {
    idVendor: CODEMETER_VENDOR_ID,
    idProduct: hid.pid,
    bcdDevice: 0x0100,
    bcdUSB: 0x0200,
    serialNumber: stick.serial,
    manufacturer: "SYNTHETIC CmStick stand-in",
    product: "CmStick (keybridge test guest)",
    protocol: 0,
    subclass: 0,
    reportLength: 64,
    reportDescriptor: REPORT_DESCRIPTOR,
    configuration: "synthetic CmStick",
    maxPower: 100,
  });
  bindGadget(stick.configfsDir, stick.udc);
} catch (error) {
  fail(error.message);
}

function fail(message) {
  process.stderr.write(`cmstick-gadget: ${message}\n`);
  process.exit(1);
}
