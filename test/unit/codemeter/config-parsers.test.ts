import { describe, expect, it } from "vitest";
import { parseCmuList, parseCmuVersion } from "../../../src/codemeter/model/cmu-output.js";
import { decodeIniBytes, parseIni } from "../../../src/codemeter/model/ini.js";
import { extractServerConfig, fingerprintSection } from "../../../src/codemeter/model/server-config.js";

// SYNTHETIC: the Server.ini texts and cmu outputs here are built from the documented section and
// value names and the few known output lines; none is a copy of a real file.

const SERVER_INI = [
  "; synthetic Server.ini for tests",
  "[General]",
  "NetworkPort=22350",
  "CmWANPort=22351",
  "BindAddress=0.0.0.0",
  "IsNetworkServer=1",
  "LogLicenseTracking=1",
  "LogLicenseTrackingPath=/var/log/CodeMeter",
  "",
  "[BorrowClient]",
  "[BorrowServer]",
  "Item1=00AA",
  "Item2=00BB",
  "[BorrowServer\\Nested]",
  "Inner=1",
  "[BorrowManage]",
  "Count=2",
  "[HTTP]",
  "Port=22352",
  "[HTTPS]",
  "Port=22353",
  "[ServerSearchList\\Server1]",
  "Address=10.0.0.5",
].join("\r\n");

function config(text: string) {
  const doc = parseIni(text, "Server.ini");
  return {
    doc,
    config: extractServerConfig(doc.sections, {
      origin: "ini",
      where: "Server.ini",
      defaultTrackingDir: "/var/log/CodeMeter",
    }),
  };
}

describe("Server.ini", () => {
  it("reads tracking, ports, bind address and fingerprints the three Borrow sections", () => {
    const { doc, config: c } = config(SERVER_INI);
    expect(doc.findings).toEqual([]);
    expect(c.tracking).toEqual({
      enabled: true,
      setting: "1",
      dir: "/var/log/CodeMeter",
      dirSetting: "/var/log/CodeMeter",
    });
    expect(c.ports).toEqual({ network: 22350, wan: 22351, http: 22352, https: 22353 });
    expect(c.bindAddress).toBe("0.0.0.0");
    expect(c.isNetworkServer).toBe(true);
    expect(c.borrow.BorrowClient).toEqual({
      present: true,
      values: 0,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(c.borrow.BorrowServer).toMatchObject({ present: true, values: 3 });
    expect(c.borrow.BorrowManage).toMatchObject({ present: true, values: 1 });
    expect(c.sectionNames).toContain("ServerSearchList\\Server1");
  });

  it("tracking is off when the value is 0 or absent, and the default directory applies", () => {
    expect(config("[General]\nLogLicenseTracking=0\n").config.tracking).toMatchObject({ enabled: false, setting: "0" });
    expect(config("[General]\nNetworkPort=22350\n").config.tracking).toEqual({
      enabled: false,
      setting: null,
      dir: "/var/log/CodeMeter",
      dirSetting: null,
    });
  });

  it("a fingerprint changes with the content, not with the order of values or a section's case", () => {
    const a = fingerprintSection(parseIni("[BorrowServer]\nA=1\nB=2\n", "x").sections, "BorrowServer");
    const b = fingerprintSection(parseIni("[borrowserver]\nB=2\nA=1\n", "x").sections, "BorrowServer");
    const c = fingerprintSection(parseIni("[BorrowServer]\nA=1\nB=3\n", "x").sections, "BorrowServer");
    expect(a.sha256).toBe(b.sha256);
    expect(c.sha256).not.toBe(a.sha256);
    expect(fingerprintSection([], "BorrowServer")).toEqual({ present: false, values: 0, sha256: null });
  });

  it("duplicate sections are merged in file order, with a finding; the last value wins", () => {
    const { doc, config: c } = config("[General]\nNetworkPort=1\n[HTTP]\nPort=2\n[general]\nNetworkPort=3\n");
    expect(doc.findings).toEqual([
      expect.objectContaining({ code: "config-duplicate-section", message: expect.stringContaining("[General]") }),
    ]);
    expect(c.ports.network).toBe(3);
  });

  it("lines it cannot read and values outside a section are findings, not failures", () => {
    const { doc, config: c } = config("Orphan=1\n[General\ngarbage line\n[General]\nNetworkPort=22350\n");
    expect(doc.findings).toEqual([
      expect.objectContaining({
        code: "config-malformed-line",
        message: expect.stringMatching(/2 line.*line 2.*1 value/),
      }),
    ]);
    expect(c.ports.network).toBe(22350);
  });

  it("invalid UTF-8 is a finding; UTF-16 with a BOM and a UTF-8 BOM are read", () => {
    const bad = decodeIniBytes(Buffer.from([0x5b, 0x47, 0x5d, 0x0a, 0x41, 0x3d, 0xff, 0xfe, 0x0a]), "Server.ini");
    expect(bad.findings).toEqual([expect.objectContaining({ code: "config-invalid-encoding", where: "Server.ini" })]);
    expect(bad.text).toContain("[G]");
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from("[General]\r\nNetworkPort=22350\r\n", "utf16le"),
    ]);
    const decoded = decodeIniBytes(utf16, "x");
    expect(decoded.findings).toEqual([]);
    expect(config(decoded.text).config.ports.network).toBe(22350);
    expect(decodeIniBytes(Buffer.from("\uFEFF[General]", "utf8"), "x").text).toBe("[General]");
  });

  it("registry-shaped sections (values on the root key, General as a subkey) read the same", () => {
    const c = extractServerConfig(
      [
        { name: "", values: [{ key: "RuntimeVersion", value: "8.20.6539.500" }] },
        { name: "General", values: [{ key: "LogLicenseTracking", value: "1" }] },
        { name: "BorrowServer", values: [] },
      ],
      { origin: "registry", where: "HKLM\\x", defaultTrackingDir: "C:\\ProgramData\\CodeMeter\\LicenseTracking" },
    );
    expect(c.runtimeVersion).toBe("8.20.6539.500");
    expect(c.tracking.dir).toBe("C:\\ProgramData\\CodeMeter\\LicenseTracking");
    expect(c.borrow.BorrowServer).toMatchObject({ present: true, values: 0 });
    expect(c.borrow.BorrowClient.present).toBe(false);
  });
});

describe("cmu output", () => {
  it("reads the version, the service state and the operating system", () => {
    const running = parseCmuVersion(
      [
        "CodeMeter Universal Support Tool (synthetic output).",
        "Version 8.20a of 2024-Oct-10 (Build 6539) for Linux",
        "CodeMeter-Service:       running, version 8.20a",
        "Operating System:        Linux 6.1 x86_64",
      ].join("\n"),
    );
    expect(running).toEqual({
      version: "8.20a",
      serviceRunning: true,
      operatingSystem: "Linux 6.1 x86_64",
      recognised: 3,
    });
    const stopped = parseCmuVersion("Version 7.60 of 2023-Mar-27\nCodeMeter-Service:       not running\n");
    expect(stopped).toMatchObject({ version: "7.60", serviceRunning: false });
  });

  it("recognises nothing in garbage", () => {
    expect(parseCmuVersion("\u0000\u0001 segmentation fault\n").recognised).toBe(0);
    expect(parseCmuList("hello\n").recognised).toBe(0);
  });

  it("reads the container count and the serials", () => {
    expect(parseCmuList("Result: 0 CmContainer(s) listed.\n")).toEqual({ count: 0, serials: [], recognised: 1 });
    expect(
      parseCmuList(
        [
          "Version 8.20 of 2024-Oct-10",
          "  3-6903986  CmStick/T  synthetic",
          "  130-1234567  CmActLicense",
          "Result: 2 CmContainer(s) listed.",
        ].join("\n"),
      ),
    ).toEqual({ count: 2, serials: ["3-6903986", "130-1234567"], recognised: 3 });
  });
});
