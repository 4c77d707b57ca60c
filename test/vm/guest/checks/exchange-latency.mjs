// Round-trip time of one command through the real Transport + KeyClient, over the kernel's
// USB/HID path (node-hid, hidraw, usbhid, dummy_hcd, f_hid, the gadget port, the firmware), beside
// the same commands on the virtual bus in this guest (node-hid stand-in, in-process firmware) and
// raw one-report INIT exchanges below the transport. Figures, not pass marks: the check fails only
// on a wrong or missing answer.
import { randomBytes } from "node:crypto";
import { CheckFailed, initExchange } from "../lib/context.mjs";

const WARMUP = 10;
/** Per path: half PING (16 bytes), half GET_INFO, alternating. */
const SAMPLES = 300;
const RAW_SAMPLES = 100;

export default {
  name: "exchange-latency",
  timeoutMs: 180_000,
  async run(ctx) {
    await ctx.ensureKey({ provisioned: false });
    const kernel = await ctx.connect();
    let kernelFigures;
    try {
      kernelFigures = await measure(kernel.client);
    } finally {
      await kernel.client.close();
    }

    const virtualFigures = await onVirtualBus(ctx);

    const protocol = await ctx.dist("src/protocol/index.js");
    const device = await ctx.openHid();
    const raw = [];
    try {
      for (let i = 0; i < WARMUP + RAW_SAMPLES; i++) {
        const start = performance.now();
        await initExchange(device, protocol);
        if (i >= WARMUP) raw.push(performance.now() - start);
      }
    } finally {
      await device.close();
    }
    return { kernel: kernelFigures, virtual: virtualFigures, rawReport: percentiles(raw) };
  },
};

async function onVirtualBus(ctx) {
  const mocks = await ctx.dist("native-mocks/index.js");
  const { virtualHidBackend, listKeys, openHidPort, Transport } = await ctx.dist("src/transport/index.js");
  const { connectKey, MemoryPinStore } = await ctx.dist("src/key/index.js");
  const { bus } = mocks.createDemoKey({ latencyMs: 0 });
  try {
    const backend = virtualHidBackend(mocks.createNodeHidStandIn(bus), mocks.createUsbStandIn(bus));
    const [device] = await listKeys(backend);
    const transport = await Transport.open(await openHidPort(backend, device));
    const client = await connectKey(transport, new MemoryPinStore());
    try {
      return await measure(client);
    } finally {
      await client.close();
    }
  } finally {
    bus.close();
  }
}

async function measure(client) {
  const ping = [];
  const getInfo = [];
  const payload = Uint8Array.from(randomBytes(16));
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const isPing = i % 2 === 0;
    const start = performance.now();
    if (isPing) {
      const echoed = await client.ping(payload);
      if (!Buffer.from(echoed).equals(payload)) throw new CheckFailed(`PING ${i} echoed other bytes`);
    } else {
      const info = await client.getInfo();
      if (info.serial !== client.serial) throw new CheckFailed(`GET_INFO ${i} names serial ${info.serial}`);
    }
    const elapsed = performance.now() - start;
    if (i >= WARMUP) (isPing ? ping : getInfo).push(elapsed);
  }
  return { ...percentiles([...ping, ...getInfo]), ping: percentiles(ping), getInfo: percentiles(getInfo) };
}

function percentiles(samples) {
  const times = [...samples].sort((a, b) => a - b);
  const rank = (p) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
  const round = (ms) => Math.round(ms * 1000) / 1000;
  return { n: times.length, p50: round(rank(50)), p99: round(rank(99)), max: round(times.at(-1)) };
}
