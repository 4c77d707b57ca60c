import { unlink } from "node:fs/promises";
import { layerLogger } from "../log.js";
import { errnoCode, mapFsError } from "./fs-errors.js";

const log = layerLogger("registry");

/** Removes a file; one that is already gone is fine, any other failure is mapped and thrown. */
export async function removeFile(path: string, action: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw mapFsError(error, action, path);
  }
}

/**
 * Removes a temporary file while another outcome is already decided (an error on its way to the
 * caller, or a lock just taken): a failure here must not replace that outcome, so it is logged.
 */
export async function discardFile(path: string, why: string): Promise<void> {
  try {
    await removeFile(path, "remove");
  } catch (error) {
    log.warn("cannot remove a temporary file", { path, why, error: (error as Error).message });
  }
}
