import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CheckOutcome, type DoctorCheck, fail, ok, skip, warn } from "./types.js";

export const RULES_FILE_NAME = "70-keybridge.rules";

/** Where udev reads rules, highest precedence first: a file in /etc overrides one of the same name below. */
export const UDEV_RULE_DIRS = ["/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"];

/**
 * The rules shipped in the package root's `udev/`: three levels above this file when it runs from
 * `src/` (tests), four from `dist/src/` (the built command).
 */
export const SHIPPED_RULES_FILE = shippedRulesFile();

function shippedRulesFile(): string {
  const candidates = [`../../../udev/${RULES_FILE_NAME}`, `../../../../udev/${RULES_FILE_NAME}`].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  return candidates.find((file) => existsSync(file)) ?? (candidates[0] as string);
}

export interface UdevCheckInputs {
  platform?: NodeJS.Platform;
  ruleDirs?: readonly string[];
  shippedRulesFile?: string;
}

export function installRulesFix(shippedRulesFile: string): string {
  return [
    `sudo install -m 0644 ${shippedRulesFile} /etc/udev/rules.d/${RULES_FILE_NAME}`,
    "sudo udevadm control --reload-rules && sudo udevadm trigger",
    "then replug the key",
  ].join("\n");
}

/** The rule lines themselves: comments, blank lines and line endings do not change what udev does. */
function ruleLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function otherKeybridgeRules(dirs: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    for (const name of names) {
      if (name !== RULES_FILE_NAME && /keybridge.*\.rules$/.test(name)) found.push(join(dir, name));
    }
  }
  return found;
}

export async function checkUdevRules(inputs: UdevCheckInputs = {}): Promise<CheckOutcome> {
  const platform = inputs.platform ?? process.platform;
  if (platform !== "linux") return skip(`udev is Linux only (this is ${platform})`);
  const dirs = inputs.ruleDirs ?? UDEV_RULE_DIRS;
  const shippedFile = inputs.shippedRulesFile ?? SHIPPED_RULES_FILE;
  const fix = installRulesFix(shippedFile);

  let installed: { file: string; text: string } | undefined;
  for (const dir of dirs) {
    const file = join(dir, RULES_FILE_NAME);
    const text = await readIfPresent(file);
    if (text !== undefined) {
      installed = { file, text };
      break;
    }
  }
  if (installed === undefined) {
    const others = await otherKeybridgeRules(dirs);
    if (others.length > 0) {
      return warn(
        `keybridge rules installed as ${others.join(", ")}, not as ${RULES_FILE_NAME} (uaccess needs a file numbered below 73)`,
        `sudo rm ${others.join(" ")}\n${fix}`,
      );
    }
    return fail(
      `${RULES_FILE_NAME} is not installed in ${dirs.join(", ")}: only root can open keys, not the keybridge service`,
      fix,
    );
  }

  const shipped = await readIfPresent(shippedFile);
  if (shipped === undefined) {
    return warn(
      `${installed.file} is installed, but the shipped ${shippedFile} is missing, so it cannot be compared`,
      "reinstall keybridge (sudo npm install -g keybridge)",
    );
  }
  const same = ruleLines(installed.text).join("\n") === ruleLines(shipped).join("\n");
  if (!same) {
    return warn(`${installed.file} is outdated: its rules differ from the shipped ${shippedFile}`, fix);
  }
  return ok(`${installed.file} matches the shipped rules`);
}

export function udevRulesCheck(inputs?: UdevCheckInputs): DoctorCheck {
  return { id: "udev-rules", title: "udev rules", run: () => checkUdevRules(inputs) };
}
