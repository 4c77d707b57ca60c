import { loadUsbBackend } from "./local-access.js";
import { type CheckOutcome, type DoctorCheck, fail, ok } from "./types.js";

/** Loads one native package far enough that its compiled binding is in memory. */
export type NativeProbe = () => Promise<void>;

/**
 * better-sqlite3 loads its binding at the first database; node-hid and usb load at import, through
 * the transport's factory as in the daemon, which reports the import's own error as the cause.
 */
export const NATIVE_PROBES: Readonly<Record<string, NativeProbe>> = {
  "better-sqlite3": async () => {
    const { default: Database } = await import("better-sqlite3");
    new Database(":memory:").close();
  },
  "node-hid and usb": async () => {
    try {
      await loadUsbBackend();
    } catch (error) {
      throw (error as Error).cause instanceof Error ? (error as Error).cause : error;
    }
  },
};

/** The fix for one package that would not load, from what its error says. */
export function nativeFix(name: string, message: string, platform: NodeJS.Platform): string {
  if (/libusb|libudev|shared object|\.so[.:\s]|cannot open shared/i.test(message) && platform === "linux") {
    return "sudo apt-get install --no-install-recommends libusb-1.0-0 (on other distributions: the libusb-1.0 package)";
  }
  if (/cannot find (package|module)|ERR_MODULE_NOT_FOUND/i.test(message)) {
    return `reinstall keybridge so that ${name} is installed (sudo npm install -g keybridge)`;
  }
  // A binary built for another Node.js ABI, or a prebuilt binary missing for this platform.
  return `npm rebuild ${name.replace(" and ", " ")} in keybridge's install directory (needs build-essential python3 libusb-1.0-0-dev libudev-dev)`;
}

export async function checkNativeModules(
  probes: Readonly<Record<string, NativeProbe>> = NATIVE_PROBES,
  platform: NodeJS.Platform = process.platform,
): Promise<CheckOutcome> {
  const names = Object.keys(probes);
  const failures: { name: string; message: string }[] = [];
  for (const name of names) {
    try {
      await probes[name]!();
    } catch (error) {
      failures.push({ name, message: error instanceof Error ? error.message : String(error) });
    }
  }
  if (failures.length === 0) return ok(`${names.join(", ")} load`);
  const detail = failures.map((f) => `${f.name} does not load: ${f.message.split("\n")[0]}`).join("; ");
  const fixes = [...new Set(failures.map((f) => nativeFix(f.name, f.message, platform)))];
  return fail(detail, fixes.join("\n"));
}

export function nativeModulesCheck(
  probes?: Readonly<Record<string, NativeProbe>>,
  platform?: NodeJS.Platform,
): DoctorCheck {
  return {
    id: "native-modules",
    title: "native modules",
    run: () => checkNativeModules(probes, platform),
  };
}
