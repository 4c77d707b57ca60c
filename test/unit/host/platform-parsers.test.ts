import { describe, expect, it } from "vitest";
import {
  parseIoregPlatformUuid,
  parsePlistVersion,
  parseRegQueryValue,
  parseVersionText,
} from "../../../src/host/platform-parsers.js";

describe("platform tool parsers", () => {
  it("reads IOPlatformUUID from ioreg output", () => {
    const output = [
      "+-o MacBookPro18,3  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0 (0 ms), retain 39>",
      '    "IOPlatformSerialNumber" = "C02XXXXXXX"',
      '    "IOPlatformUUID" = "8A2B4C6D-1E3F-4A5B-9C8D-7E6F5A4B3C2D"',
    ].join("\n");
    expect(parseIoregPlatformUuid(output)).toBe("8a2b4c6d-1e3f-4a5b-9c8d-7e6f5a4b3c2d");
    expect(parseIoregPlatformUuid("nothing here")).toBeUndefined();
  });

  it("reads string and DWORD values from reg query output", () => {
    const guid =
      "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography\r\n    MachineGuid    REG_SZ    0d2c7f3e-51a4-4b8e-9f0a-6c1d2e3f4a5b\r\n\r\n";
    expect(parseRegQueryValue(guid, "MachineGuid")).toBe("0d2c7f3e-51a4-4b8e-9f0a-6c1d2e3f4a5b");
    const date =
      "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\r\n    InstallDate    REG_DWORD    0x65a1b2c3\r\n";
    expect(parseRegQueryValue(date, "InstallDate")).toBe(String(0x65a1b2c3));
    expect(parseRegQueryValue(guid, "InstallDate")).toBeUndefined();
  });

  it("finds version numbers in tool output and Info.plist", () => {
    expect(parseVersionText("CodeMeter for Linux v8.20a of 2024-Sep-05 (Build 6519)")).toBe("8.20a");
    expect(parseVersionText("no version")).toBeUndefined();
    const plist = "<dict>\n\t<key>CFBundleShortVersionString</key>\n\t<string>8.20.6519.500</string>\n</dict>";
    expect(parsePlistVersion(plist)).toBe("8.20.6519.500");
  });
});
