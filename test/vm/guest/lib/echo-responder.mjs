// The key's side of the gadget until the real firmware is served there: every output report
// read from /dev/hidgN is written back as an input report. Run as a child process because
// reads on the gadget node block a thread for as long as the host sends nothing.
// Usage: node echo-responder.mjs /dev/hidg0 64
import { closeSync, openSync, readSync, writeSync } from "node:fs";

const [path, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
const report = Buffer.alloc(size);
const pause = new Int32Array(new SharedArrayBuffer(4));
let fd = null;
let lastError = "";

for (;;) {
  try {
    if (fd === null) {
      fd = openSync(path, "r+");
      // The parent waits for this before it sends: a report sent earlier would be answered late.
      process.stdout.write("ready\n");
    }
    const length = readSync(fd, report, 0, size, null);
    if (length > 0) writeSync(fd, report, 0, length);
  } catch (error) {
    // While unplugged the function is disabled: reopen once the UDC is bound again.
    if (error.message !== lastError) process.stderr.write(`echo-responder: ${error.message}\n`);
    lastError = error.message;
    if (fd !== null) closeSync(fd);
    fd = null;
    Atomics.wait(pause, 0, 0, 20);
  }
}
