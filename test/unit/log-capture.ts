import { Writable } from "node:stream";
import { afterEach } from "vitest";
import winston from "winston";
import { type LogLevel, rootLogger } from "../../src/log.js";

/** One line the code logged while captured: its level, message and fields (layer included). */
export interface CapturedLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface LogCapture {
  readonly lines: CapturedLine[];
  /** The captured lines of `level` whose message matches. */
  matching(level: LogLevel, message: RegExp): CapturedLine[];
  /** Stops capturing: the logger writes to the console again. */
  restore(): void;
}

const active: LogCapture[] = [];
afterEach(() => {
  for (const capture of active.splice(0)) capture.restore();
});

/** A winston transport that keeps each logged line as an object. */
function captureTransport(sink: CapturedLine[]) {
  const stream = new Writable({
    objectMode: true,
    write(info: CapturedLine, _encoding, done) {
      const { level, message, ...fields } = info;
      // The fields the code passed (layer included); winston adds its own under symbols.
      sink.push({ ...fields, level: String(level), message: String(message) });
      done();
    },
  });
  return new winston.transports.Stream({ stream });
}

/**
 * Captures what the code logs, instead of printing it, until the test ends (or `restore()`): a test
 * that provokes an error asserts on the error line it expects, and a passing run stays quiet.
 * `level` lowers the logger's level while capturing (default: what is set, `error` under vitest).
 */
export function captureLogs(level?: LogLevel): LogCapture {
  const lines: CapturedLine[] = [];
  const transports = [...rootLogger.transports];
  const previousLevel = rootLogger.level;
  const transport = captureTransport(lines);
  rootLogger.clear();
  rootLogger.add(transport);
  if (level !== undefined) rootLogger.level = level;
  let restored = false;
  const capture: LogCapture = {
    lines,
    matching: (wanted, message) => lines.filter((line) => line.level === wanted && message.test(line.message)),
    restore() {
      if (restored) return;
      restored = true;
      rootLogger.remove(transport);
      for (const previous of transports) rootLogger.add(previous);
      rootLogger.level = previousLevel;
    },
  };
  active.push(capture);
  return capture;
}
