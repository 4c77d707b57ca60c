import { execFile } from "node:child_process";
import { layerLogger } from "../../log.js";
import { errnoOf } from "../errors.js";
import { parseCmuList, parseCmuVersion } from "../model/cmu-output.js";
import type { Finding } from "../model/findings.js";
import type { CmuReading } from "../model/inputs.js";

const log = layerLogger("codemeter");

/** The CodeMeter runtime as `cmu` reports it. */
export interface RuntimeSource {
  /** One reading; never rejects (a missing cmu, a hang, garbage: all are readings). */
  read(): Promise<CmuReading>;
}

/** cmu as the runtime installs it: looked up on PATH. */
export const DEFAULT_CMU_COMMAND = "cmu";

export interface CmuSourceOptions {
  /** The cmu executable; default `cmu`, looked up on PATH. */
  readonly command?: string;
  /** Each call is killed after this long. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Output beyond this ends the call as failed. Default 1 MiB. */
  readonly maxOutputBytes?: number;
}

/**
 * Only the two options that list and never change anything: `--version` and `--list`. No shell
 * (execFile), a bounded time per call (SIGKILL on timeout), bounded output.
 */
export const CMU_READ_ONLY_ARGS = { version: ["--version"], list: ["--list"] } as const;

type CallResult =
  | { kind: "done"; stdout: string; stderr: string; exitCode: number }
  | { kind: "missing" }
  | { kind: "failed"; finding: Finding };

export class CmuRuntimeSource implements RuntimeSource {
  readonly #command: string;
  readonly #timeoutMs: number;
  readonly #maxOutputBytes: number;

  constructor(options: CmuSourceOptions = {}) {
    this.#command = options.command ?? DEFAULT_CMU_COMMAND;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxOutputBytes = options.maxOutputBytes ?? 1 << 20;
  }

  get command(): string {
    return this.#command;
  }

  async read(): Promise<CmuReading> {
    const version = await this.#call(CMU_READ_ONLY_ARGS.version);
    if (version.kind === "missing") return { kind: "missing", command: this.#command };
    if (version.kind === "failed") return { kind: "failed", finding: version.finding };
    const list = await this.#call(CMU_READ_ONLY_ARGS.list);
    if (list.kind === "missing") return { kind: "missing", command: this.#command };
    if (list.kind === "failed") return { kind: "failed", finding: list.finding, outputs: { version: version.stdout } };
    const versionInfo = parseCmuVersion(version.stdout);
    const listInfo = parseCmuList(list.stdout);
    const outputs = { version: version.stdout, list: list.stdout };
    // A non-zero exit is accepted when cmu printed lines it is known to print (it may say "not
    // running" that way); with nothing recognisable, the output is not to be trusted.
    for (const [call, recognised, name] of [
      [version, versionInfo.recognised, "--version"],
      [list, listInfo.recognised, "--list"],
    ] as const) {
      if (recognised > 0) continue;
      const code = call.exitCode === 0 ? "cmu-garbage" : "cmu-failed";
      const what =
        call.exitCode === 0
          ? "printed nothing keybridge recognises"
          : `exited with code ${call.exitCode}${stderrText(call.stderr)}`;
      return { kind: "failed", finding: this.#finding(code, `\`${this.#command} ${name}\` ${what}`), outputs };
    }
    return { kind: "ok", version: versionInfo, list: listInfo, outputs };
  }

  #finding(code: Finding["code"], message: string): Finding {
    return { code, message, where: this.#command };
  }

  #call(args: readonly string[]): Promise<CallResult> {
    const name = `${this.#command} ${args.join(" ")}`;
    return new Promise((resolve) => {
      execFile(
        this.#command,
        [...args],
        {
          timeout: this.#timeoutMs,
          killSignal: "SIGKILL",
          shell: false,
          windowsHide: true,
          maxBuffer: this.#maxOutputBytes,
          encoding: "utf8",
        },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve({ kind: "done", stdout, stderr, exitCode: 0 });
            return;
          }
          const failure = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
          const errno = errnoOf(failure);
          if (errno === "ENOENT") {
            log.debug("cmu not found", { command: this.#command });
            resolve({ kind: "missing" });
            return;
          }
          if (failure.killed === true || failure.signal === "SIGKILL") {
            resolve({
              kind: "failed",
              finding: this.#finding(
                "cmu-timeout",
                `\`${name}\` did not answer within ${this.#timeoutMs} ms and was stopped; the last good reading is kept`,
              ),
            });
            return;
          }
          if (errno === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") {
            resolve({
              kind: "failed",
              finding: this.#finding("cmu-garbage", `\`${name}\` printed more than ${this.#maxOutputBytes} bytes`),
            });
            return;
          }
          const exitCode = (failure as { code?: unknown }).code;
          if (typeof exitCode === "number") {
            resolve({ kind: "done", stdout, stderr, exitCode });
            return;
          }
          log.warn("cmu could not be run", { command: this.#command, error: failure.message });
          resolve({
            kind: "failed",
            finding: this.#finding("cmu-failed", `\`${name}\` could not be run (${errno ?? failure.message})`),
          });
        },
      );
    });
  }
}

function stderrText(stderr: string): string {
  const first = stderr.trim().split(/\r?\n/, 1)[0] ?? "";
  return first === "" ? "" : `: ${first.slice(0, 200)}`;
}

/** A runtime source driven by hand (tests, and the virtual mode when it has no simulated cmu). */
export class ManualRuntimeSource implements RuntimeSource {
  constructor(public reading: CmuReading = { kind: "missing", command: "cmu" }) {}

  async read(): Promise<CmuReading> {
    return this.reading;
  }
}
