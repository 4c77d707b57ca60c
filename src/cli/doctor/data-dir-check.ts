import { constants, type Stats } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { isCodedError } from "../../errors.js";
import { combine } from "./findings.js";
import { registryKindFor, verifyLedger, verifyRegistryFile } from "./local-access.js";
import { type CheckOutcome, type DoctorCheck, fail, ok, skip, warn } from "./types.js";

/** The system user the service runs as (systemd/keybridge.sysusers.conf). */
export const SERVICE_USER = "keybridge";

/** The system service's data directory (systemd/keybridge.service, StateDirectory=keybridge). */
export const SERVICE_DATA_DIR = "/var/lib/keybridge";

export interface DataDirCheckInputs {
  dataDir: string;
  /** From the configuration: "auto" picks the platform's default. */
  registryKind?: string;
  registryPath?: string;
  platform?: NodeJS.Platform;
  uid?: number;
  /** The service account's uid, when it exists: root sees a directory owned by it as right. */
  serviceUid?: () => Promise<number | undefined>;
  /** Where the system service keeps its data; default SERVICE_DATA_DIR. */
  serviceDataDir?: string;
  /** Rejects when this process may not list the directory (an admin without sudo). */
  canRead?: (path: string) => Promise<void>;
}

export async function lookupUid(user: string, passwdFile = "/etc/passwd"): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(passwdFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  for (const line of text.split("\n")) {
    const [name, , uid] = line.split(":");
    if (name === user && uid !== undefined && /^\d+$/.test(uid)) return Number(uid);
  }
  return undefined;
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

async function statIfPresent(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await statIfPresent(path)) !== undefined;
  } catch {
    // It exists but cannot be looked at (EACCES on a parent): as good as present for the hint.
    return true;
  }
}

async function checkOwnership(dir: string, stats: Stats, inputs: DataDirCheckInputs): Promise<CheckOutcome[]> {
  const findings: CheckOutcome[] = [];
  const mode = stats.mode & 0o777;
  if (mode !== 0o700) {
    findings.push(
      warn(
        `mode 0${mode.toString(8)}, expected 0700 (the API token and the ledger's server secret must stay private)`,
        `sudo chmod 700 ${dir}`,
      ),
    );
  }
  const uid = inputs.uid ?? process.getuid?.();
  if (uid === undefined || stats.uid === uid) return findings;
  const serviceUid = await (inputs.serviceUid ?? (() => lookupUid(SERVICE_USER)))();
  if (uid === 0 && serviceUid !== undefined && stats.uid === serviceUid) return findings;
  const expected = uid === 0 ? `the ${SERVICE_USER} service` : `you (uid ${uid})`;
  findings.push(
    warn(
      `owned by uid ${stats.uid}, not by ${expected}: a daemon running as another user cannot write its ledger`,
      uid === 0 ? `sudo chown -R ${SERVICE_USER}:${SERVICE_USER} ${dir}` : `sudo chown -R $USER ${dir}`,
    ),
  );
  return findings;
}

const RESTART_FIX =
  "keybridge preflight restart-service, then sudo systemctl restart keybridge: at start the daemon quarantines the damaged ledger and rebuilds it from the registry and the key; then keybridge reconcile";

/** Read-only: never creates, migrates or repairs the ledger. */
async function checkLedger(dir: string, signal?: AbortSignal): Promise<CheckOutcome> {
  let verified: { outstanding: number } | undefined;
  try {
    verified = await verifyLedger(dir, signal);
  } catch (error) {
    // Out of time: the check's runner reports that, not a ledger failure.
    if (signal?.aborted) throw error;
    const code = isCodedError(error) ? error.code : "";
    const message = (error as Error).message;
    if (code === "LEDGER_CORRUPT") return fail(`ledger: ${message}`, RESTART_FIX);
    if (code === "LEDGER_TOO_NEW") {
      return fail(`ledger: ${message}`, "install the keybridge version that wrote it, or newer");
    }
    const details = isCodedError(error) ? (error as { details?: Record<string, unknown> }).details : undefined;
    if (code === "LEDGER_READ_ONLY" && details?.version !== undefined) {
      return warn(`ledger: ${message}`, "the daemon migrates it at its next start: sudo systemctl restart keybridge");
    }
    return fail(`ledger cannot be opened: ${message}`, "run `sudo keybridge doctor`, or as the daemon's user");
  }
  if (verified === undefined) return ok("no ledger yet");
  const n = verified.outstanding;
  return ok(`ledger passes its integrity check (${n} outstanding borrow${n === 1 ? "" : "s"})`);
}

/** Read-only: the adapter's read path verifies the file's checksum and parses it. */
async function checkRegistry(inputs: DataDirCheckInputs, platform: NodeJS.Platform): Promise<CheckOutcome> {
  const kind = await registryKindFor(inputs.registryKind, platform);
  if (kind !== "ini") return ok(`registry: ${kind}, checked by the daemon (keybridge status)`);
  const file = inputs.registryPath ?? join(inputs.dataDir, "registry.ini");
  if ((await statIfPresent(file)) === undefined) return ok(`no registry file yet (${file})`);
  try {
    const { root, keys } = await verifyRegistryFile(file);
    return ok(`registry ${file} is intact (${keys} key${keys === 1 ? "" : "s"} under ${root})`);
  } catch (error) {
    const code = isCodedError(error) ? error.code : "";
    const fix =
      code === "REGISTRY_CORRUPT"
        ? "keybridge reconcile shows what differs; keybridge reconcile --repair rewrites the registry from the ledger"
        : `check the permissions of ${file} (the daemon's user must read and write it)`;
    return fail(`registry: ${(error as Error).message}`, fix);
  }
}

export async function checkDataDir(inputs: DataDirCheckInputs, signal?: AbortSignal): Promise<CheckOutcome> {
  const dir = inputs.dataDir;
  const platform = inputs.platform ?? process.platform;
  let stats: Stats | undefined;
  try {
    stats = await statIfPresent(dir);
  } catch (error) {
    return skip(
      `cannot look at ${dir} (${errnoOf(error) ?? (error as Error).message}): run \`sudo keybridge doctor\` to check it`,
    );
  }
  if (stats === undefined) {
    const serviceDir = inputs.serviceDataDir ?? SERVICE_DATA_DIR;
    if (dir !== serviceDir && (await exists(serviceDir))) {
      return warn(
        `${dir} does not exist, but the keybridge service keeps its data in ${serviceDir}`,
        `check the service's directory: sudo keybridge doctor (or keybridge doctor --data-dir ${serviceDir})`,
      );
    }
    return warn(
      `${dir} does not exist yet; it is created at the first \`keybridge serve\``,
      "sudo systemctl start keybridge (or keybridge serve)",
    );
  }
  if (!stats.isDirectory()) {
    return fail(
      `${dir} is not a directory`,
      `move it away (sudo mv ${dir} ${dir}.bak); keybridge serve creates the directory`,
    );
  }
  try {
    await (inputs.canRead ?? ((path: string) => access(path, constants.R_OK | constants.X_OK)))(dir);
  } catch (error) {
    return skip(
      `cannot read ${dir} (${errnoOf(error) ?? (error as Error).message}): run \`sudo keybridge doctor\` to check it`,
    );
  }
  const findings: CheckOutcome[] = [ok(dir)];
  if (platform !== "win32") findings.push(...(await checkOwnership(dir, stats, inputs)));
  findings.push(await checkLedger(dir, signal));
  findings.push(await checkRegistry(inputs, platform));
  return combine(findings);
}

export function dataDirCheck(inputs: DataDirCheckInputs): DoctorCheck {
  return { id: "data-dir", title: "data directory", run: (signal) => checkDataDir(inputs, signal) };
}
