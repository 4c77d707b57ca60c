import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { layerLogger } from "../log.js";
import type { CommandRunner } from "./command.js";
import { parsePlistVersion, parseRegQueryValue, parseVersionText } from "./platform-parsers.js";

const log = layerLogger("host");
const require = createRequire(import.meta.url);

/** The installed version of an npm package, read from its package.json; undefined when not installed. */
export async function packageVersion(name: string): Promise<string | undefined> {
  const manifest = resolveManifest(name);
  if (manifest === undefined) return undefined;
  try {
    const parsed = JSON.parse(await readFile(manifest, "utf8")) as { name?: unknown; version?: unknown };
    return parsed.name === name && typeof parsed.version === "string" ? parsed.version : undefined;
  } catch (error) {
    log.debug("package manifest not readable", { name, manifest, error: (error as Error).message });
    return undefined;
  }
}

function resolveManifest(name: string): string | undefined {
  try {
    return require.resolve(`${name}/package.json`);
  } catch {
    // Packages whose "exports" hide package.json: resolve the entry point and walk up to the manifest.
  }
  try {
    let dir = dirname(require.resolve(name));
    while (!dir.endsWith(`node_modules/${name}`) && !dir.endsWith(`node_modules\\${name}`)) {
      const parent = dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
    return join(dir, "package.json");
  } catch (error) {
    log.debug("package not installed", { name, error: (error as Error).message });
    return undefined;
  }
}

export interface CodeMeterSources {
  platform: NodeJS.Platform;
  run: CommandRunner;
  commandTimeoutMs: number;
}

/** The CodeMeter runtime's version where it is installed, undefined otherwise; never throws. */
export async function codeMeterRuntimeVersion(sources: CodeMeterSources): Promise<string | undefined> {
  const { platform, run, commandTimeoutMs: timeout } = sources;
  if (platform === "linux") {
    for (const pkg of ["codemeter", "codemeter-lite"]) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
      const version = (await run("dpkg-query", ["-W", "-f", "${Version}", pkg], timeout))?.trim();
      if (version) return version;
    }
    const rpm = (await run("rpm", ["-q", "--qf", "%{VERSION}-%{RELEASE}", "CodeMeter"], timeout))?.trim();
    if (rpm && !rpm.includes("not installed")) return rpm;
    const binary = await run("/usr/sbin/CodeMeterLin", ["-v"], timeout);
    return binary === undefined ? undefined : parseVersionText(binary);
  }
  if (platform === "darwin") {
    try {
      return parsePlistVersion(await readFile("/Applications/CodeMeter.app/Contents/Info.plist", "utf8"));
    } catch (error) {
      log.debug("CodeMeter.app not found", { error: (error as Error).message });
      return undefined;
    }
  }
  if (platform === "win32") {
    const output = await run(
      "reg",
      ["query", "HKLM\\SOFTWARE\\WIBU-SYSTEMS\\CodeMeter\\Server\\CurrentVersion", "/reg:64"],
      timeout,
    );
    if (output === undefined) return undefined;
    // The server key exists while the runtime is installed; its version value is not documented, so
    // presence alone is reported when no version-like value is found.
    return parseRegQueryValue(output, "Version") ?? "installed";
  }
  return undefined;
}
