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
  const transport = await import("../transport/index.js");
  const hid =
    (backend as Awaited<ReturnType<typeof transport.loadHidBackend>> | undefined) ?? (await transport.loadHidBackend());
  return transport.listAllDevices(hid);
}

/** Loads node-hid and usb through the transport's factory, as the daemon does. */
export async function loadUsbBackend(): Promise<void> {
  const transport = await import("../transport/index.js");
  await transport.loadHidBackend();
}

/**
 * Opens the ledger read-only (header, SQLite quick_check, schema, checksums of the live rows) and
 * verifies every outstanding borrow's checksum. Undefined when there is no ledger yet.
 * Throws the ledger's typed errors (LEDGER_CORRUPT, LEDGER_TOO_NEW, LEDGER_READ_ONLY, LEDGER_IO).
 */
export async function verifyLedger(dir: string): Promise<{ outstanding: number } | undefined> {
  const ledgerLayer = await import("../ledger/index.js");
  const file = join(dir, ledgerLayer.DEFAULT_FILE_NAME);
  if (!existsSync(file)) return undefined;
  // SQLite makes the -wal and -shm files even for a read-only connection when they are missing,
  // and leaves them: made by root for a stopped daemon, they would lock the service account out of
  // its own ledger. Without both, the daemon is not running: check a private copy instead.
  const inPlace = existsSync(`${file}-wal`) && existsSync(`${file}-shm`);
  const checkDir = inPlace ? dir : mkdtempSync(join(tmpdir(), "keybridge-doctor-"));
  try {
    if (!inPlace) {
      copyFileSync(file, join(checkDir, ledgerLayer.DEFAULT_FILE_NAME));
      if (existsSync(`${file}-wal`))
        copyFileSync(`${file}-wal`, join(checkDir, `${ledgerLayer.DEFAULT_FILE_NAME}-wal`));
    }
    // A short busy wait: a reader is not blocked by the daemon's writes in WAL mode, and the check has 3 s.
    const ledger = ledgerLayer.openLedger({ dir: checkDir, readOnly: true, busyTimeoutMs: 1_000 });
    try {
      return { outstanding: ledger.listOutstanding().length };
    } finally {
      ledger.close();
    }
  } finally {
    if (!inPlace) rmSync(checkDir, { recursive: true, force: true });
  }
}

/** "auto" resolved as the daemon resolves it. */
export async function registryKindFor(kind: string | undefined, platform: NodeJS.Platform): Promise<string> {
  if (kind !== undefined && kind !== "auto") return kind;
  const registryLayer = await import("../registry/index.js");
  return registryLayer.defaultRegistryKind(platform);
}

/**
 * Reads the INI registry file through the adapter's read path, which verifies its checksum and
 * parses it. Throws the registry's typed errors (REGISTRY_CORRUPT, REGISTRY_ACCESS_DENIED, REGISTRY_IO).
 */
export async function verifyRegistryFile(file: string): Promise<{ root: string; keys: number }> {
  const registryLayer = await import("../registry/index.js");
  const registry = new registryLayer.IniRegistry({ path: file });
  try {
    const keys = await registry.listSubkeys(registryLayer.REGISTRY_ROOT);
    return { root: registryLayer.REGISTRY_ROOT, keys: keys.length };
  } finally {
    await registry.close();
  }
}
