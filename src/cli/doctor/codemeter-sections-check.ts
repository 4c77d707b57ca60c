import { type CodeMeterScene, nameItFix } from "./codemeter-scene.js";
import { type AccountFiles, fileReadable, readAccessFix } from "./service-account.js";
import { type CheckOutcome, type DoctorCheck, fail, ok, warn } from "./types.js";

const SECTIONS = ["BorrowClient", "BorrowServer", "BorrowManage"] as const;

/**
 * The Borrow sections of the server configuration (CodeMeter's own copy of each borrow, read
 * only as fingerprints): the configuration readable by the account keybridge runs as, and what
 * the sections hold now.
 */
export async function checkCodeMeterSections(scene: CodeMeterScene, files?: AccountFiles): Promise<CheckOutcome> {
  const { config, where, platform } = scene.detection;
  const { account } = scene;
  const fix = (path: string) =>
    readAccessFix({
      path,
      kind: "file",
      user: account.user,
      byBits: account.who !== "self",
      platform,
      ...(files?.readGroup === undefined ? {} : { readGroup: files.readGroup }),
    });
  if (config.kind === "missing") {
    return warn(
      `no CodeMeter server configuration at ${where.serverConfig}: no Borrow sections to watch (CodeMeter keeps its copy of each borrow there)`,
      `install the CodeMeter runtime; if its configuration lives elsewhere, ${nameItFix("serverIni", "/etc/wibu/CodeMeter/Server.ini")}`,
    );
  }
  if (config.kind === "failed") {
    const registry = config.finding.code === "config-registry-unreadable";
    return fail(
      `the Borrow sections cannot be read: ${config.finding.message}`,
      registry
        ? `run keybridge as an account that may read ${where.serverConfig}`
        : config.finding.code === "config-unreadable"
          ? await fix(where.serverConfig)
          : "see the finding; `keybridge codemeter capture --out FILE` records what was read for a bug report",
    );
  }
  const { config: server, findings } = config;
  if (server.origin === "ini" && account.who !== "self") {
    const problem = await fileReadable(server.where, account.who).catch((error: unknown) => String(error));
    if (problem !== undefined) {
      return fail(
        `${server.where} can be read here but not by ${account.label}, so the daemon cannot watch the Borrow sections: ${problem}`,
        await fix(server.where),
      );
    }
  }
  const held = SECTIONS.map((name) => {
    const section = server.borrow[name];
    if (!section.present) return `${name} not present`;
    return `${name} ${section.values === 0 ? "empty" : `${section.values} value${section.values === 1 ? "" : "s"}`}`;
  }).join(", ");
  const detail = `readable in ${server.where} by ${account.label}: ${held}`;
  if (findings.length > 0) {
    return warn(
      `${detail}; read with findings: ${findings.map((finding) => finding.message).join("; ")}`,
      "nothing to change for keybridge (it reads the file as it is); `keybridge codemeter capture --out FILE` records what was read for a bug report",
    );
  }
  return ok(detail);
}

export function codeMeterSectionsCheck(scene: CodeMeterScene, files?: AccountFiles): DoctorCheck {
  return {
    id: "codemeter-borrow-sections",
    title: "CodeMeter Borrow sections",
    run: () => checkCodeMeterSections(scene, files),
  };
}
