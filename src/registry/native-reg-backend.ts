import { RegistryUnavailableError } from "./errors.js";
import {
  WIN32_ERROR,
  type WindowsRawValue,
  type WindowsRegistryBackend,
  type WindowsWritableValue,
} from "./windows-backend.js";

type NativeReg = typeof import("native-reg");
type Hkey = ReturnType<NativeReg["openKey"]>;

/** Loads native-reg (only on Windows) and wraps it as the backend of `WindowsRegistry`. */
export async function loadNativeRegBackend(): Promise<WindowsRegistryBackend> {
  if (process.platform !== "win32") {
    throw new RegistryUnavailableError(
      `The Windows registry is not available on ${process.platform}; use the INI registry`,
    );
  }
  let reg: NativeReg;
  try {
    const loaded = (await import("native-reg")) as NativeReg & { default?: NativeReg };
    reg = loaded.default ?? loaded;
  } catch (cause) {
    throw new RegistryUnavailableError(
      "The optional package native-reg could not be loaded; reinstall keybridge with optional dependencies on Windows",
      { cause },
    );
  }
  return new NativeRegBackend(reg);
}

function notFound(path: string): Error {
  return Object.assign(new Error(`The registry key ${path} does not exist.`), { errno: WIN32_ERROR.FILE_NOT_FOUND });
}

function splitLast(path: string): [string, string] {
  const at = path.lastIndexOf("\\");
  return [path.slice(0, at), path.slice(at + 1)];
}

/** Thin: every method is one or two native-reg calls on HKLM's 64-bit view. */
class NativeRegBackend implements WindowsRegistryBackend {
  readonly hive = "HKLM";
  private readonly view: number;

  constructor(private readonly reg: NativeReg) {
    this.view = reg.Access.WOW64_64KEY;
  }

  keyExists(path: string): boolean {
    return this.withKey(path, this.reg.Access.QUERY_VALUE, () => true) ?? false;
  }

  createKey(path: string): void {
    this.reg.closeKey(this.reg.createKey(this.reg.HKLM, path, this.reg.Access.ALL_ACCESS | this.view));
  }

  enumSubkeys(path: string): string[] | null {
    return this.withKey(path, this.reg.Access.READ, (key) => this.reg.enumKeyNames(key));
  }

  enumValueNames(path: string): string[] | null {
    return this.withKey(path, this.reg.Access.READ, (key) => this.reg.enumValueNames(key));
  }

  getValue(path: string, name: string): WindowsRawValue | null {
    const raw = this.withKey(path, this.reg.Access.QUERY_VALUE, (key) => this.reg.queryValueRaw(key, name));
    if (raw === null || raw === undefined) return null;
    switch (raw.type) {
      case this.reg.ValueType.SZ:
        return { kind: "REG_SZ", data: this.reg.parseString(raw) };
      case this.reg.ValueType.DWORD:
        return { kind: "REG_DWORD", data: raw.readUInt32LE(0) };
      case this.reg.ValueType.BINARY:
        return { kind: "REG_BINARY", data: new Uint8Array(raw) };
      default:
        return { kind: "OTHER", typeCode: raw.type };
    }
  }

  setValue(path: string, name: string, value: WindowsWritableValue): void {
    const done = this.withKey(path, this.reg.Access.SET_VALUE, (key) => {
      if (value.kind === "REG_SZ") this.reg.setValueSZ(key, name, value.data);
      else if (value.kind === "REG_DWORD") this.reg.setValueDWORD(key, name, value.data);
      else this.reg.setValueRaw(key, name, this.reg.ValueType.BINARY, Buffer.from(value.data));
      return true;
    });
    if (done === null) throw notFound(path);
  }

  deleteValue(path: string, name: string): boolean {
    return this.withKey(path, this.reg.Access.SET_VALUE, (key) => this.reg.deleteValue(key, name)) ?? false;
  }

  deleteTree(path: string): boolean {
    const [parent, name] = splitLast(path);
    return this.withKey(parent, this.reg.Access.ALL_ACCESS, (key) => this.reg.deleteTree(key, name)) ?? false;
  }

  renameKey(path: string, newName: string): void {
    const [parent, name] = splitLast(path);
    const done = this.withKey(parent, this.reg.Access.ALL_ACCESS, (key) => {
      this.reg.renameKey(key, name, newName);
      return true;
    });
    if (done === null) throw notFound(path);
  }

  close(): void {}

  private withKey<T>(path: string, access: number, use: (key: NonNullable<Hkey>) => T): T | null {
    const key = this.reg.openKey(this.reg.HKLM, path, access | this.view);
    if (key === null) return null;
    try {
      return use(key);
    } finally {
      this.reg.closeKey(key);
    }
  }
}
