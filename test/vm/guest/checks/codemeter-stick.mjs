// A CmStick beside the key, on a real kernel: keybridge's discovery, over the production node-hid
// and usb modules, lists it as a CodeMeter stick (WIBU's vendor id, the HID CmStick's model, its
// serial from the HID list), keeps it out of the keys, and never opens it: every call discovery
// makes on the two modules is recorded, and none is an open (node-hid's HID/HIDAsync.open, a usb
// device's open). The key is still found beside it.
import { CheckFailed } from "../lib/context.mjs";

const OPENS = new Set(["HID", "HIDAsync.open", "device.open"]);

/** The module behind a recording view: every function reached through it is recorded by name. */
function recording(target, calls, prefix = "") {
  const view = new Proxy(target, {
    get(object, name) {
      // Read on the object itself: native getters (a usb device's) refuse another receiver.
      const value = Reflect.get(object, name);
      if (typeof value !== "function") return value;
      const label = `${prefix}${String(name)}`;
      return new Proxy(value, {
        apply(fn, self, args) {
          calls.push(label);
          return recordDevices(Reflect.apply(fn, self === view ? object : self, args), calls);
        },
        construct(fn, args) {
          calls.push(label);
          return Reflect.construct(fn, args);
        },
        get(fn, member) {
          const inner = Reflect.get(fn, member);
          if (typeof inner !== "function") return inner;
          return (...args) => {
            calls.push(`${label}.${String(member)}`);
            return inner.apply(fn, args);
          };
        },
      });
    },
  });
  return view;
}

/** Devices usb hands out are recorded too (an open would be called on one of them). */
function recordDevices(result, calls) {
  if (!Array.isArray(result)) return result;
  return result.map((item) =>
    item !== null && typeof item === "object" && "deviceDescriptor" in item ? recording(item, calls, "device.") : item,
  );
}

export default {
  name: "codemeter-stick",
  async run(ctx) {
    const stick = ctx.config.cmStick;
    const { CODEMETER_VENDOR_ID } = await ctx.dist("src/protocol/constants.js");
    const { listCodeMeterSticks, listKeys, listAllDevices, loadHidBackend } = await ctx.dist("src/transport/index.js");
    const real = await loadHidBackend();
    const calls = [];
    const backend = { ...real, hid: recording(real.hid, calls), usb: recording(real.usb, calls) };
    const sticks = await listCodeMeterSticks(backend);
    const keys = await listKeys(backend);
    const all = await listAllDevices(backend);
    const detail = { sticks, keys: keys.map((key) => key.serial), calls: [...new Set(calls)] };

    const found = sticks.filter((device) => device.vendorId === CODEMETER_VENDOR_ID);
    if (found.length !== 1) throw new CheckFailed("discovery does not list exactly one CmStick", detail);
    const [cmStick] = found;
    if (cmStick.kind !== "codemeter" || cmStick.model !== "CmStick (HID)" || cmStick.productId !== 0x2af9) {
      throw new CheckFailed("the CmStick is not listed as a HID CmStick", detail);
    }
    if (cmStick.serial !== stick.serial) throw new CheckFailed(`the CmStick's serial is not ${stick.serial}`, detail);
    if (!cmStick.path.startsWith("/dev/hidraw")) throw new CheckFailed("the CmStick has no hidraw path", detail);
    if (keys.length !== 1 || keys[0].serial !== ctx.config.serial) {
      throw new CheckFailed("the key is not the only keybridge key beside the CmStick", detail);
    }
    if (all.filter((device) => device.kind === "codemeter").length !== 1) {
      throw new CheckFailed("one enumeration of both kinds does not hold the CmStick once", detail);
    }
    if (calls.length === 0) throw new CheckFailed("the recording saw no call: it proves nothing", detail);
    const opened = calls.filter((call) => OPENS.has(call) || call.endsWith(".open"));
    // The recording itself must see an open when there is one: it is tried on the key, not the stick.
    const probe = [];
    const { device } = await ctx.realKey();
    const hid = recording(real.hid, probe);
    await (await hid.HIDAsync.open(device.path)).close();
    if (!probe.some((call) => OPENS.has(call))) throw new CheckFailed("the recording misses an open", { probe });
    if (opened.length > 0) throw new CheckFailed("discovery opened a device", { ...detail, opened });
    return detail;
  },
};
