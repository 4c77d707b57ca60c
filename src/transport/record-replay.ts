import { randomFillSync } from "node:crypto";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { fromHex, toHex } from "../protocol/bytes.js";
import {
  BROADCAST_CID,
  FRAME_COMMAND_FLAG,
  FrameCommand,
  INIT_HEADER_SIZE,
  INIT_NONCE_SIZE,
  NONCE_SIZE,
  REPORT_SIZE,
} from "../protocol/constants.js";
import { ReplayMismatch } from "./errors.js";
import type { HidPort, HidPortInfo } from "./hid-port.js";
import type { RandomBytes } from "./transport.js";

/**
 * Fixture format (JSON Lines): a header `{"fixture":"keybridge-hid","version":1,"info":{...}}`,
 * then one line per report: `{"dir":"out"|"in","hex":"<128 hex digits>","t":<ms since start>}`.
 * A read that timed out is `{"dir":"in","hex":null,"t":...}`.
 */
export interface FixtureLine {
  readonly dir: "out" | "in";
  readonly hex: string | null;
  readonly t: number;
}

interface FixtureHeader {
  readonly fixture: "keybridge-hid";
  readonly version: 1;
  readonly info: HidPortInfo;
}

/** Where the random bytes of a written report are: the INIT nonce or the request nonce of a MSG. */
function nonceRange(report: Uint8Array): { size: number } | undefined {
  if (report.length !== REPORT_SIZE || (report[4]! & FRAME_COMMAND_FLAG) === 0) return undefined;
  const cmd = report[4]! & 0x7f;
  const cid = ((report[0]! << 24) >>> 0) + ((report[1]! << 16) | (report[2]! << 8) | report[3]!);
  if (cmd === FrameCommand.INIT && cid === BROADCAST_CID) return { size: INIT_NONCE_SIZE };
  const length = (report[5]! << 8) | report[6]!;
  if (cmd === FrameCommand.MSG && length >= NONCE_SIZE) return { size: NONCE_SIZE };
  return undefined;
}

/** Wraps a port and appends every report that passes through it to a JSONL fixture. */
export class RecordingPort implements HidPort {
  private readonly started = performance.now();

  constructor(
    private readonly inner: HidPort,
    readonly fixturePath: string,
  ) {
    const header: FixtureHeader = { fixture: "keybridge-hid", version: 1, info: inner.info };
    writeFileSync(fixturePath, `${JSON.stringify(header)}\n`);
  }

  get info(): HidPortInfo {
    return this.inner.info;
  }

  private append(dir: "out" | "in", report: Uint8Array | undefined): void {
    const line: FixtureLine = {
      dir,
      hex: report === undefined ? null : toHex(report),
      t: Math.round((performance.now() - this.started) * 1000) / 1000,
    };
    appendFileSync(this.fixturePath, `${JSON.stringify(line)}\n`);
  }

  async write(report: Uint8Array): Promise<void> {
    this.append("out", report);
    await this.inner.write(report);
  }

  async read(timeoutMs: number): Promise<Uint8Array | undefined> {
    const report = await this.inner.read(timeoutMs);
    this.append("in", report);
    return report;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Serves a recorded session. Every written report must equal the recorded one, except the
 * nonce bytes, which are random by design. Two ways to deal with them:
 *
 * - Feed the recorded nonces back: pass `replay.randomBytes` as the `randomBytes` option of the
 *   Transport and the KeyClient. The session then repeats byte for byte and the recorded
 *   signatures verify (rule K9 signs over the request nonce).
 * - Without that, the replay substitutes: it accepts any nonce, and patches the INIT answer to
 *   echo the live nonce so the channel opens. Recorded MSG answers are returned unchanged, so
 *   their signatures fail to verify against the live nonce, as they must.
 */
export class ReplayPort implements HidPort {
  readonly info: HidPortInfo;
  private readonly lines: FixtureLine[];
  private position = 0;
  private readonly initNonces: Uint8Array[] = [];
  private readonly requestNonces: Uint8Array[] = [];
  /** Live INIT nonce that differed from the recorded one: the next INIT answer must echo it. */
  private liveInitNonce: Uint8Array | undefined;
  private closed = false;

  constructor(fixtureText: string) {
    const [headerLine, ...rest] = fixtureText.split("\n").filter((line) => line.trim() !== "");
    const header = JSON.parse(headerLine ?? "{}") as Partial<FixtureHeader>;
    if (header.fixture !== "keybridge-hid" || header.version !== 1 || header.info === undefined) {
      throw new ReplayMismatch("not a keybridge HID fixture (bad header line)");
    }
    this.info = header.info;
    this.lines = rest.map((line) => JSON.parse(line) as FixtureLine);
    for (const line of this.lines) {
      if (line.dir !== "out" || line.hex === null) continue;
      const report = fromHex(line.hex);
      const range = nonceRange(report);
      if (range === undefined) continue;
      const nonce = report.slice(INIT_HEADER_SIZE, INIT_HEADER_SIZE + range.size);
      (range.size === INIT_NONCE_SIZE ? this.initNonces : this.requestNonces).push(nonce);
    }
  }

  static fromFile(path: string): ReplayPort {
    return new ReplayPort(readFileSync(path, "utf8"));
  }

  /** Hands out the recorded nonces in recorded order (8 bytes: INIT, 16 bytes: requests); other sizes are random. */
  readonly randomBytes: RandomBytes = (size) => {
    const queue = size === INIT_NONCE_SIZE ? this.initNonces : size === NONCE_SIZE ? this.requestNonces : undefined;
    const next = queue?.shift();
    return next !== undefined ? Uint8Array.from(next) : randomFillSync(new Uint8Array(size));
  };

  /** Records not consumed yet (0 after a faithful replay of the whole session). */
  get remaining(): number {
    return this.lines.length - this.position;
  }

  async write(report: Uint8Array): Promise<void> {
    this.checkOpen();
    this.skipTimeouts();
    const line = this.lines[this.position];
    if (line === undefined || line.dir !== "out" || line.hex === null) {
      throw new ReplayMismatch(`write of a report the fixture does not have at line ${this.position + 2}`, {
        got: toHex(report),
      });
    }
    const recorded = fromHex(line.hex);
    const range = nonceRange(recorded);
    const nonceEnd = range === undefined ? 0 : INIT_HEADER_SIZE + range.size;
    for (let i = 0; i < Math.max(recorded.length, report.length); i++) {
      const inNonce = i >= INIT_HEADER_SIZE && i < nonceEnd;
      if (!inNonce && recorded[i] !== report[i]) {
        throw new ReplayMismatch(`written report differs from the fixture at byte ${i} (line ${this.position + 2})`, {
          expected: line.hex,
          got: toHex(report),
        });
      }
    }
    if (range?.size === INIT_NONCE_SIZE) {
      const live = report.slice(INIT_HEADER_SIZE, nonceEnd);
      const same = live.every((byte, i) => byte === recorded[INIT_HEADER_SIZE + i]);
      this.liveInitNonce = same ? undefined : live;
    }
    this.position++;
  }

  async read(timeoutMs: number): Promise<Uint8Array | undefined> {
    this.checkOpen();
    const line = this.lines[this.position];
    if (line === undefined || line.dir !== "in") {
      // The live side reads where the recording did not (or past its end): nothing arrives.
      await new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 5)));
      return undefined;
    }
    this.position++;
    if (line.hex === null) return undefined;
    const report = fromHex(line.hex);
    if (this.liveInitNonce !== undefined && isInitAnswer(report)) {
      report.set(this.liveInitNonce, INIT_HEADER_SIZE);
      this.liveInitNonce = undefined;
    }
    return report;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private skipTimeouts(): void {
    while (this.lines[this.position]?.dir === "in" && this.lines[this.position]?.hex === null) this.position++;
  }

  private checkOpen(): void {
    if (this.closed) throw new ReplayMismatch("the replay port is closed");
  }
}

function isInitAnswer(report: Uint8Array): boolean {
  const cid = ((report[0]! << 24) >>> 0) + ((report[1]! << 16) | (report[2]! << 8) | report[3]!);
  return cid === BROADCAST_CID && report[4] === (FrameCommand.INIT | FRAME_COMMAND_FLAG);
}
