import { type Ledger, LedgerFileLostError } from "../ledger/index.js";
import { layerLogger } from "../log.js";

const log = layerLogger("bridge");

/** Two pages of the ledger's default page size. */
const PROBE_BYTES = 8192;

/** What is wrong with the ledger now, for the risk engine and status. */
export interface LedgerProblem {
  /** `unwritable`: writes fail (disk full, I/O); `missing` / `replaced`: the file was deleted or replaced while open. */
  readonly kind: "unwritable" | "missing" | "replaced";
  readonly file: string;
  readonly since: number;
  /** The last write error (unwritable). */
  readonly detail: string;
  /** missing: the open copy was written back to the path; replaced: to `copy`. */
  readonly writtenBack: boolean;
  /** replaced: where the open copy was written (the path holds the other file). */
  readonly copy?: string;
}

/**
 * The ledger's health check, every `intervalMs`:
 * - the file at the ledger's path must still be the one open. Deleted or replaced, every write from
 *   then on would go to a file the next start does not open: writes are refused at once
 *   (LEDGER_FILE_LOST), and the open copy, complete because nothing is written after, is written
 *   back to the path (deleted) or beside the other file (replaced), retried until it succeeds;
 * - while writes fail (a full disk), a one-row probe write shows when space is back, so the
 *   ledger turns healthy again without waiting for a borrow.
 */
export class LedgerWatch {
  private timer: NodeJS.Timeout | undefined;
  private lost: { kind: "missing" | "replaced"; since: number; writtenBack: boolean; copy?: string } | undefined;
  private unwritableSince: number | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly ledger: Ledger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** One check now (checks never overlap); never rejects: what it finds is logged and reported. */
  check(): Promise<void> {
    this.running ??= this.checkNow()
      .catch((error: unknown) => log.warn("the ledger health check failed", { error: String(error) }))
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  problem(): LedgerProblem | undefined {
    const file = this.ledger.file;
    if (this.lost !== undefined) {
      return {
        kind: this.lost.kind,
        file,
        since: this.lost.since,
        detail: this.ledger.lastFailure?.message ?? "",
        writtenBack: this.lost.writtenBack,
        ...(this.lost.copy === undefined ? {} : { copy: this.lost.copy }),
      };
    }
    if (this.ledger.healthy) {
      this.unwritableSince = undefined;
      return undefined;
    }
    this.unwritableSince ??= this.now();
    return {
      kind: "unwritable",
      file,
      since: this.unwritableSince,
      detail: this.ledger.lastFailure?.message ?? "ledger writes fail",
      writtenBack: false,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async checkNow(): Promise<void> {
    if (this.closed) return;
    if (this.lost === undefined) {
      const state = this.ledger.fileState();
      if (state !== "present") {
        this.lost = { kind: state, since: this.now(), writtenBack: false };
        this.ledger.refuseWrites(new LedgerFileLostError(this.ledger.file, state));
        log.error("the ledger file was deleted or replaced while open; writes are refused until keybridge restarts", {
          file: this.ledger.file,
          state,
        });
      } else if (!this.ledger.healthy) {
        this.probeWrite();
        return;
      } else {
        return;
      }
    }
    if (!this.lost.writtenBack) await this.writeBack(this.lost);
  }

  private async writeBack(lost: NonNullable<LedgerWatch["lost"]>): Promise<void> {
    const target = lost.kind === "missing" ? this.ledger.file : `${this.ledger.file}.open-copy-${lost.since}`;
    try {
      await this.ledger.writeBack(target);
      lost.writtenBack = true;
      if (lost.kind === "replaced") lost.copy = target;
      log.warn("the open ledger was written back; restart keybridge to go on recording", { file: target });
    } catch (error) {
      log.error("writing the open ledger back failed; retrying at the next check", {
        file: target,
        error: String(error),
      });
    }
  }

  /**
   * A one-row write of a few pages: it succeeds once the disk has room for new pages again (a
   * write that only changes bytes in a page already there proves nothing), which makes the ledger
   * healthy. The row is overwritten by the next probe, so it never grows.
   */
  private probeWrite(): void {
    try {
      this.ledger.setMeta("write_probe", `${this.now()} ${".".repeat(PROBE_BYTES)}`);
    } catch {
      // Still failing: the episode was logged when it began, and the risk stays open.
    }
  }
}

/** What a ledger problem means and what to do, in the words of a risk and of `keybridge status`. */
export function describeLedgerProblem(problem: LedgerProblem): { message: string; advice: string } {
  const dir = problem.file.slice(0, Math.max(0, problem.file.lastIndexOf("/"))) || ".";
  switch (problem.kind) {
    case "unwritable":
      return {
        message:
          `The ledger ${problem.file} cannot be written (${problem.detail}). Borrowing, returning and settling are ` +
          "refused (HTTP 503, LEDGER_DISK_FULL or LEDGER_IO) until a write succeeds; status, risks and preflight keep working, and nothing recorded is lost.",
        advice:
          `Free space on the file system that holds ${dir} (df -h ${dir}) or fix its I/O error; keybridge tries a ` +
          "small write every few seconds and turns healthy by itself once one succeeds.",
      };
    case "missing":
      return {
        message:
          `The ledger file ${problem.file} was deleted while keybridge runs. Every write is refused (LEDGER_FILE_LOST), ` +
          (problem.writtenBack
            ? "and keybridge wrote its open copy back to that path: nothing is lost."
            : "and writing keybridge's open copy back to that path has not succeeded yet (it is retried)."),
        advice: problem.writtenBack
          ? "Restart keybridge (systemctl restart keybridge) to go on with the written-back ledger; find out what deleted the file."
          : `Make ${dir} writable with free space so the copy can be written back, then restart keybridge; do not restart before, or the records are lost.`,
      };
    case "replaced":
      return {
        message:
          `The ledger file ${problem.file} was replaced by another file while keybridge runs; the next start opens that ` +
          `file. Every write is refused (LEDGER_FILE_LOST)${problem.copy === undefined ? "" : `; the ledger keybridge had open was saved to ${problem.copy}`}.`,
        advice:
          problem.copy === undefined
            ? `Make ${dir} writable with free space so keybridge can save its open ledger (it retries), then restart keybridge.`
            : `If the new file is meant (a restored backup), restart keybridge. Otherwise stop keybridge, move ${problem.copy} to ${problem.file}, and start it again.`,
      };
  }
}

/** The problem and what to do, in one text (status). */
export function ledgerProblemText(problem: LedgerProblem): string {
  const { message, advice } = describeLedgerProblem(problem);
  return `${message} What to do: ${advice}`;
}
