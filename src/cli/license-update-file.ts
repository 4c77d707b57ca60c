import { closeSync, openSync, readSync } from "node:fs";
import type { LicenseInput } from "../bridge/api.js";
import { encodeLicenseUpdateFile, UPDATE_FILE_EXTENSION, UPDATE_FILE_MAGIC } from "../protocol/index.js";
import { readText } from "./command-kit.js";
import { CliFileError, UpdateForAnotherKeyError } from "./errors.js";
import { readUpdateFile } from "./vendor/files.js";

/** What `license-update` sends: a signed update file (base64) or a bare license set. */
export type LicenseUpdateBody = { update: string } | { licenses: LicenseInput[] };

/**
 * FILE as the body of a license update for `serial`. A signed update file (`.kblu`, or any file
 * that starts with its magic) is decoded here, so a truncated, oversized or foreign file, or one
 * signed for another key, is refused before the daemon is asked anything (UPDATE_FILE_INVALID,
 * KEY_WRONG_SERIAL). Anything else is read as a JSON license set {"licenses": [...]}.
 */
export async function readLicenseUpdateBody(file: string, serial: string): Promise<LicenseUpdateBody> {
  if (file.endsWith(UPDATE_FILE_EXTENSION) || startsWithMagic(file)) {
    const update = readUpdateFile(file);
    if (update.serial !== serial) throw new UpdateForAnotherKeyError(file, serial, update.serial);
    // Encoded again from what was decoded: exactly the update the preview showed is what is sent.
    return { update: Buffer.from(encodeLicenseUpdateFile(update)).toString("base64") };
  }
  return { licenses: await readLicenseSetFile(file) };
}

function startsWithMagic(file: string): boolean {
  const magic = Buffer.from(UPDATE_FILE_MAGIC);
  const head = Buffer.alloc(magic.length);
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    throw new CliFileError("FILE_UNREADABLE", `cannot read ${file}: ${(error as Error).message}`, file, error);
  }
  try {
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(magic);
  } catch (error) {
    throw new CliFileError("FILE_UNREADABLE", `cannot read ${file}: ${(error as Error).message}`, file, error);
  } finally {
    closeSync(fd);
  }
}

async function readLicenseSetFile(file: string): Promise<LicenseInput[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readText(file));
  } catch (error) {
    if (error instanceof CliFileError) throw error;
    throw new CliFileError(
      "FILE_INVALID",
      `${file} is neither a license update file (${UPDATE_FILE_EXTENSION}) nor valid JSON: ${(error as Error).message}`,
      file,
      error,
    );
  }
  const [{ Value }, { LicenseSetFileSchema }] = await Promise.all([
    import("@sinclair/typebox/value"),
    import("../server/schemas.js"),
  ]);
  if (!Value.Check(LicenseSetFileSchema, parsed)) {
    const first = [...Value.Errors(LicenseSetFileSchema, parsed)][0];
    const where =
      first?.path === undefined || first.path === "" ? "the file" : first.path.slice(1).replaceAll("/", ".");
    throw new CliFileError(
      "FILE_INVALID",
      `${file}: ${where}: ${first?.message ?? "invalid"} — expected {"licenses": [{"product", "seats", "borrowable", "borrowDays"}]}`,
      file,
    );
  }
  return (parsed as { licenses: LicenseInput[] }).licenses;
}
