/**
 * What `keybridge doctor` checks without the daemon — the one place the CLI reaches below the HTTP
 * API, loaded by it with a dynamic import: when the daemon is down, or the question is
 * whether it could start, only the layers themselves can say whether the ledger opens, the
 * registry file verifies and the keys enumerate. Every import is dynamic (other commands never
 * load these layers) and read-only (nothing here creates, migrates or repairs a file, or opens a key).
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { LedgerVerifyMessage } from "./ledger-verify-worker.js";

/** A device as doctor reports it; the transport's DiscoveredDevice has these fields. */
export interface FoundDevice {
  readonly kind: "keybridge" | "codemeter";
  readonly path: string;
  readonly serial: string;
  readonly model: string;
}

/**
 * Keys and CodeMeter sticks present now, through the transport's own discovery. `backend` replaces
 * the real node-hid/usb backend (tests); it must have the transport's HidBackend shape.
 */
export async function listUsbDevices(backend?: object): Promise<FoundDevice[]> {
  const transport = await import("../../transport/index.js");
  const hid =
    (backend as Awaited<ReturnType<typeof transport.loadHidBackend>> | undefined) ?? (await transport.loadHidBackend());
  return transport.listAllDevices(hid);
}

/** Loads node-hid and usb through the transport's factory, as the daemon does. */
export async function loadUsbBackend(): Promise<void> {
  const transport = await import("../../transport/index.js");
  await transport.loadHidBackend();
}

/**
 * Opens the ledger read-only (header, SQLite quick_check, schema, checksums of the live rows) and
 * verifies every outstanding borrow's checksum, on a worker thread that `signal` stops. Undefined
 * when there is no ledger yet. Rejects with the ledger's typed errors (LEDGER_CORRUPT,
 * LEDGER_TOO_NEW, LEDGER_READ_ONLY, LEDGER_IO), or with the signal's reason once it aborts.
 */
export async function verifyLedger(dir: string, signal?: AbortSignal): Promise<{ outstanding: number } | undefined> {
  const { DEFAULT_FILE_NAME } = await import("../../ledger/index.js");
  const file = join(dir, DEFAULT_FILE_NAME);
  if (!existsSync(file)) return undefined;
  // SQLite makes the -wal and -shm files even for a read-only connection when they are missing,
  // and leaves them: made by root for a stopped daemon, they would lock the service account out of
  // its own ledger. Without both, the daemon is not running: check a private copy instead. The copy
  // is made and removed here, never in the worker: a stopped worker runs no `finally`, and the
  // copy holds every borrow's tag.
  const inPlace = existsSync(`${file}-wal`) && existsSync(`${file}-shm`);
  const checkDir = inPlace ? dir : mkdtempSync(join(tmpdir(), "keybridge-doctor-"));
  try {
    if (!inPlace) {
      copyFileSync(file, join(checkDir, DEFAULT_FILE_NAME));
      if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, join(checkDir, `${DEFAULT_FILE_NAME}-wal`));
    }
    const answer = await verifyOnWorker(checkDir, signal);
    if (answer === undefined) return (await import("../../ledger/index.js")).verifyLedgerIn(checkDir);
    if (answer.ok) return { outstanding: answer.outstanding };
    throw await ledgerErrorFrom(answer);
  } finally {
    if (!inPlace) rmSync(checkDir, { recursive: true, force: true });
  }
}

/** The worker's answer; undefined when no worker could run it (the sources run untranspiled): check inline. */
function verifyOnWorker(checkDir: string, signal?: AbortSignal): Promise<LedgerVerifyMessage | undefined> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./ledger-verify-worker.js", import.meta.url), { workerData: { checkDir } });
    } catch {
      resolve(undefined);
      return;
    }
    let answered = false;
    const onAbort = () => {
      // terminate() stops SQLite mid-check; the read-only connection leaves the files as they were.
      const stopped = () => reject(signal?.reason);
      void worker.terminate().then(stopped, stopped);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => signal?.removeEventListener("abort", onAbort);
    worker.once("message", (message: LedgerVerifyMessage) => {
      answered = true;
      done();
      resolve(message);
    });
    worker.once("error", (error) => {
      done();
      // The worker's module did not load (no build next to this file): the check runs inline instead.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") resolve(undefined);
      else reject(error);
    });
    worker.once("exit", (code) => {
      done();
      if (!answered && !signal?.aborted) {
        resolve({ ok: false, code: "LEDGER_IO", message: `the ledger check stopped (exit code ${code})`, details: {} });
      }
    });
  });
}

async function ledgerErrorFrom(answer: Extract<LedgerVerifyMessage, { ok: false }>): Promise<Error> {
  const errors = await import("../../ledger/index.js");
  const options = { details: answer.details };
  switch (answer.code) {
    case "LEDGER_CORRUPT":
      return new errors.LedgerCorruptError(answer.message, options);
    case "LEDGER_TOO_NEW":
      return new errors.LedgerTooNewError(answer.message, options);
    case "LEDGER_READ_ONLY":
      return new errors.LedgerReadOnlyError(answer.message, options);
    case "LEDGER_DISK_FULL":
      return new errors.LedgerDiskFullError(answer.message, options);
    default:
      return new errors.LedgerIoError(answer.message, options);
  }
}

/** "auto" resolved as the daemon resolves it. */
export async function registryKindFor(kind: string | undefined, platform: NodeJS.Platform): Promise<string> {
  if (kind !== undefined && kind !== "auto") return kind;
  const registryLayer = await import("../../registry/index.js");
  return registryLayer.defaultRegistryKind(platform);
}

/**
 * Reads the INI registry file through the adapter's read path, which verifies its checksum and
 * parses it. Throws the registry's typed errors (REGISTRY_CORRUPT, REGISTRY_ACCESS_DENIED, REGISTRY_IO).
 */
export async function verifyRegistryFile(file: string): Promise<{ root: string; keys: number }> {
  const registryLayer = await import("../../registry/index.js");
  const registry = new registryLayer.IniRegistry({ path: file });
  try {
    const keys = await registry.listSubkeys(registryLayer.REGISTRY_ROOT);
    return { root: registryLayer.REGISTRY_ROOT, keys: keys.length };
  } finally {
    await registry.close();
  }
}
