import { open } from "node:fs/promises";
import { win32 } from "node:path";
import type { WindowsRawValue, WindowsRegistryBackend } from "../../registry/index.js";
import { errnoOf } from "../errors.js";
import { decodeIniBytes, type IniSection, parseIni } from "../model/ini.js";
import type { ConfigReading } from "../model/inputs.js";
import { extractServerConfig } from "../model/server-config.js";

/** CodeMeter's server configuration, read (never written). */
export interface ServerConfigSource {
  /** One reading; never rejects. */
  read(): Promise<ConfigReading>;
}

export const LINUX_SERVER_INI = "/etc/wibu/CodeMeter/Server.ini";
export const MACOS_SERVER_INI = "/Library/Preferences/com.wibu.CodeMeter.Server.ini";
/** Below HKLM. */
export const WINDOWS_SERVER_KEY = "SOFTWARE\\WIBU-SYSTEMS\\CodeMeter\\Server\\CurrentVersion";

export function defaultServerIniPath(platform: NodeJS.Platform): string | null {
  if (platform === "linux") return LINUX_SERVER_INI;
  if (platform === "darwin") return MACOS_SERVER_INI;
  return null;
}

/** Where CodeMeter writes the License Tracking log when `LogLicenseTrackingPath` is not set. */
export function defaultTrackingDir(platform: NodeJS.Platform, env: NodeJS.ProcessEnv = process.env): string {
  if (platform === "win32") return win32.join(env.ProgramData ?? "C:\\ProgramData", "CodeMeter", "LicenseTracking");
  return "/var/log/CodeMeter";
}

export interface IniConfigOptions {
  readonly path: string;
  readonly defaultTrackingDir: string;
  /** A larger file is not read (a finding says so). Default 4 MiB. */
  readonly maxBytes?: number;
}

/** Server.ini on Linux and macOS: opened read-only, bounded in size, parsed tolerantly. */
export class IniServerConfigSource implements ServerConfigSource {
  readonly #options: IniConfigOptions;

  constructor(options: IniConfigOptions) {
    this.#options = options;
  }

  async read(): Promise<ConfigReading> {
    const { path } = this.#options;
    const maxBytes = this.#options.maxBytes ?? 4 << 20;
    let bytes: Buffer;
    try {
      const handle = await open(path, "r");
      try {
        const { size } = await handle.stat();
        if (size > maxBytes) {
          return {
            kind: "failed",
            finding: {
              code: "config-too-large",
              message: `${path} is ${size} bytes, more than the ${maxBytes} a CodeMeter configuration should ever hold; not read`,
              where: path,
            },
          };
        }
        bytes = Buffer.alloc(size);
        let filled = 0;
        while (filled < size) {
          const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        bytes = bytes.subarray(0, filled);
      } finally {
        await handle.close();
      }
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === "ENOENT" || errno === "ENOTDIR") return { kind: "missing", where: path };
      return {
        kind: "failed",
        finding: {
          code: "config-unreadable",
          message: `${path} cannot be read (${errno ?? String(error)})${errno === "EACCES" || errno === "EPERM" ? ": give the keybridge service account read access" : ""}`,
          where: path,
        },
      };
    }
    const decoded = decodeIniBytes(bytes, path);
    const document = parseIni(decoded.text, path);
    if (document.sections.length === 0) {
      // An empty or garbled file (a rewrite caught half-way, a disk error) is no configuration:
      // read as one, it would turn tracking off and empty the Borrow sections, a false alarm.
      const skipped = [...decoded.findings, ...document.findings].map((finding) => finding.message).join("; ");
      return {
        kind: "failed",
        finding: {
          code: "config-malformed-line",
          message: `${path} holds no section keybridge can read (${bytes.length} bytes${skipped === "" ? "" : `; ${skipped}`}); the last configuration read is kept until it does`,
          where: path,
        },
      };
    }
    return {
      kind: "ok",
      config: extractServerConfig(document.sections, {
        origin: "ini",
        where: path,
        defaultTrackingDir: this.#options.defaultTrackingDir,
      }),
      findings: [...decoded.findings, ...document.findings],
    };
  }
}

/** Only what reading needs: the configuration source cannot even name a write. */
export type ReadOnlyRegistryBackend = Pick<
  WindowsRegistryBackend,
  "hive" | "keyExists" | "enumSubkeys" | "enumValueNames" | "getValue"
>;

export interface RegistryConfigOptions {
  readonly backend: ReadOnlyRegistryBackend;
  /** Below HKLM; default CodeMeter's server key. */
  readonly key?: string;
  readonly defaultTrackingDir: string;
  /** Nested keys read below it. Default 4. */
  readonly maxDepth?: number;
  /** Values read at most (a finding beyond). Default 20 000. */
  readonly maxValues?: number;
}

function valueText(value: WindowsRawValue): string {
  switch (value.kind) {
    case "REG_SZ":
      return value.data;
    case "REG_DWORD":
      return String(value.data);
    case "REG_BINARY":
      return Buffer.from(value.data).toString("hex");
    default:
      return `<type ${value.typeCode}>`;
  }
}

/**
 * The Windows registry key, through the existing backend, read-only: the key's own values form
 * the root section, each subkey a section named by its path below the key (`General`,
 * `BorrowServer\…`), as Server.ini's sections are on the other platforms.
 */
export class RegistryServerConfigSource implements ServerConfigSource {
  readonly #options: RegistryConfigOptions;

  constructor(options: RegistryConfigOptions) {
    this.#options = options;
  }

  async read(): Promise<ConfigReading> {
    const { backend } = this.#options;
    const key = this.#options.key ?? WINDOWS_SERVER_KEY;
    const where = `${backend.hive}\\${key}`;
    try {
      if (!backend.keyExists(key)) return { kind: "missing", where };
      const sections: IniSection[] = [];
      const budget = { values: this.#options.maxValues ?? 20_000 };
      this.#walk(key, "", 0, sections, budget);
      return {
        kind: "ok",
        config: extractServerConfig(sections, {
          origin: "registry",
          where,
          defaultTrackingDir: this.#options.defaultTrackingDir,
        }),
        findings:
          budget.values < 0
            ? [
                {
                  code: "config-malformed-line",
                  message: "the key holds more values than keybridge reads; the rest were skipped",
                  where,
                },
              ]
            : [],
      };
    } catch (error) {
      const errno = (error as { errno?: unknown }).errno;
      return {
        kind: "failed",
        finding: {
          code: "config-registry-unreadable",
          message: `${where} cannot be read (${errno === 5 ? "access denied: run keybridge as an account that may read HKLM" : String((error as Error).message ?? error)})`,
          where,
        },
      };
    }
  }

  #walk(path: string, name: string, depth: number, sections: IniSection[], budget: { values: number }): void {
    const { backend } = this.#options;
    const values: IniSection["values"] = [];
    for (const valueName of backend.enumValueNames(path) ?? []) {
      if (--budget.values < 0) break;
      const value = backend.getValue(path, valueName);
      if (value !== null) values.push({ key: valueName, value: valueText(value) });
    }
    sections.push({ name, values });
    if (depth >= (this.#options.maxDepth ?? 4)) return;
    for (const child of backend.enumSubkeys(path) ?? []) {
      this.#walk(`${path}\\${child}`, name === "" ? child : `${name}\\${child}`, depth + 1, sections, budget);
    }
  }
}

/** A configuration source driven by hand (tests). */
export class ManualServerConfigSource implements ServerConfigSource {
  constructor(public reading: ConfigReading) {}

  async read(): Promise<ConfigReading> {
    return this.reading;
  }
}
