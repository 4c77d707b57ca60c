import {
  WIN32_ERROR,
  type WindowsRawValue,
  type WindowsRegistryBackend,
  type WindowsWritableValue,
} from "../../../src/registry/index.js";

interface FakeKey {
  name: string;
  values: Map<string, { name: string; value: WindowsRawValue }>;
  subkeys: Map<string, FakeKey>;
}

function win32Error(errno: number, message: string): Error {
  return Object.assign(new Error(message), { errno });
}

function newKey(name: string): FakeKey {
  return { name, values: new Map(), subkeys: new Map() };
}

/**
 * Behaves like the Windows registry below HKLM for the calls keybridge makes: names are
 * case-insensitive and keep their first case, DWORDs must fit 32 bits, writes to a missing key
 * fail with ERROR_FILE_NOT_FOUND, renames onto an existing name fail with ERROR_ALREADY_EXISTS.
 * `failAfterWrites(n)` makes the n+1-th mutating call throw, as a crash would stop a writer.
 */
export class FakeWindowsBackend implements WindowsRegistryBackend {
  readonly hive = "HKLM";
  private readonly hklm = newKey("");
  private writesLeft = Number.POSITIVE_INFINITY;
  denyWrites = false;
  writes = 0;

  failAfterWrites(count: number): void {
    this.writesLeft = count;
  }

  /** Lets a test plant a value of a type keybridge never writes. */
  plantForeignValue(path: string, name: string, typeCode: number): void {
    this.createKey(path);
    this.find(path)!.values.set(name.toLowerCase(), { name, value: { kind: "OTHER", typeCode } });
  }

  keyExists(path: string): boolean {
    return this.find(path) !== undefined;
  }

  createKey(path: string): void {
    let key = this.hklm;
    for (const part of path.split("\\")) {
      let next = key.subkeys.get(part.toLowerCase());
      if (next === undefined) {
        this.mutating();
        next = newKey(part);
        key.subkeys.set(part.toLowerCase(), next);
      }
      key = next;
    }
  }

  enumSubkeys(path: string): string[] | null {
    const key = this.find(path);
    return key === undefined ? null : Array.from(key.subkeys.values(), (k) => k.name);
  }

  enumValueNames(path: string): string[] | null {
    const key = this.find(path);
    return key === undefined ? null : Array.from(key.values.values(), (v) => v.name);
  }

  getValue(path: string, name: string): WindowsRawValue | null {
    const stored = this.find(path)?.values.get(name.toLowerCase())?.value;
    if (stored === undefined) return null;
    return stored.kind === "REG_BINARY" ? { kind: "REG_BINARY", data: Uint8Array.from(stored.data) } : stored;
  }

  setValue(path: string, name: string, value: WindowsWritableValue): void {
    const key = this.find(path);
    if (key === undefined) throw win32Error(WIN32_ERROR.FILE_NOT_FOUND, "The system cannot find the file specified.");
    if (value.kind === "REG_DWORD" && !(Number.isInteger(value.data) && value.data >= 0 && value.data <= 0xffffffff)) {
      throw win32Error(WIN32_ERROR.INVALID_PARAMETER, "The parameter is incorrect.");
    }
    this.mutating();
    const stored: WindowsRawValue =
      value.kind === "REG_BINARY" ? { kind: "REG_BINARY", data: Uint8Array.from(value.data) } : value;
    const existing = key.values.get(name.toLowerCase());
    key.values.set(name.toLowerCase(), { name: existing?.name ?? name, value: stored });
  }

  deleteValue(path: string, name: string): boolean {
    const key = this.find(path);
    if (key === undefined || !key.values.has(name.toLowerCase())) return false;
    this.mutating();
    return key.values.delete(name.toLowerCase());
  }

  deleteTree(path: string): boolean {
    const parts = path.split("\\");
    const parent = this.find(parts.slice(0, -1).join("\\"));
    const last = parts[parts.length - 1]!.toLowerCase();
    if (parent === undefined || !parent.subkeys.has(last)) return false;
    this.mutating();
    return parent.subkeys.delete(last);
  }

  renameKey(path: string, newName: string): void {
    const parts = path.split("\\");
    const parent = this.find(parts.slice(0, -1).join("\\"));
    const key = parent?.subkeys.get(parts[parts.length - 1]!.toLowerCase());
    if (parent === undefined || key === undefined) {
      throw win32Error(WIN32_ERROR.FILE_NOT_FOUND, "The system cannot find the file specified.");
    }
    if (parent.subkeys.has(newName.toLowerCase())) {
      throw win32Error(WIN32_ERROR.ALREADY_EXISTS, "Cannot create a file when that file already exists.");
    }
    this.mutating();
    parent.subkeys.delete(key.name.toLowerCase());
    key.name = newName;
    parent.subkeys.set(newName.toLowerCase(), key);
  }

  close(): void {}

  private find(path: string): FakeKey | undefined {
    let key: FakeKey | undefined = this.hklm;
    for (const part of path.split("\\")) {
      key = key.subkeys.get(part.toLowerCase());
      if (key === undefined) return undefined;
    }
    return key;
  }

  private mutating(): void {
    if (this.denyWrites) throw win32Error(WIN32_ERROR.ACCESS_DENIED, "Access is denied.");
    if (this.writesLeft <= 0)
      throw win32Error(1117, "The request could not be performed because of an I/O device error.");
    this.writesLeft--;
    this.writes++;
  }
}
