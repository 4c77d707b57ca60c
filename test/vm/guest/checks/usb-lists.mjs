// The `usb` module (libusb) lists the key and can read its serial string: what hotplug and
// descriptor reads rely on.
import { CheckFailed } from "../lib/context.mjs";

export default {
  name: "usb-lists",
  async run(ctx) {
    const { vendorId, productId, serial } = ctx.config;
    const usb = ctx.usb();
    const device = usb
      .getDeviceList()
      .find((d) => d.deviceDescriptor.idVendor === vendorId && d.deviceDescriptor.idProduct === productId);
    if (!device) throw new CheckFailed("usb.getDeviceList() has no device with the key's VID/PID");
    device.open();
    let serialNumber;
    try {
      serialNumber = await new Promise((resolve, reject) =>
        device.getStringDescriptor(device.deviceDescriptor.iSerialNumber, (error, value) =>
          error ? reject(error) : resolve(value),
        ),
      );
    } finally {
      device.close();
    }
    const detail = { busNumber: device.busNumber, deviceAddress: device.deviceAddress, serialNumber };
    if (serialNumber !== serial) throw new CheckFailed(`serial string is not ${serial}`, detail);
    return detail;
  },
};
