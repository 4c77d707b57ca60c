// Whether a test that needs a system tool may skip when the tool is missing. `.ci/run` sets
// KEYBRIDGE_REQUIRE_TOOLS=1: there every tool is installed on purpose, so a missing one is a broken
// CI image and the test fails, instead of CI going green with the check not run. Elsewhere (a
// contributor's machine) a missing tool skips the test visibly, with the reason. Used by the
// vitest helper (require-tool.ts) and by the QEMU suite's runner (test/vm/run-vm.mjs).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const REQUIRE_TOOLS_VARIABLE = "KEYBRIDGE_REQUIRE_TOOLS";

export function toolsRequired() {
  return process.env[REQUIRE_TOOLS_VARIABLE] === "1";
}

/**
 * A tool at a fixed path (`/usr/bin/promtool`) or a command on the PATH (`openssl`), found when
 * the file exists or the command runs with `probeArgs`. Returns why it is missing, or undefined.
 */
export function toolMissing(tool, probeArgs = ["--version"]) {
  if (tool.includes("/")) return existsSync(tool) ? undefined : `${tool} is not installed`;
  const probe = spawnSync(tool, probeArgs, { stdio: "ignore" });
  return probe.error === undefined ? undefined : `${tool} is not installed (${probe.error.message})`;
}

/** The error a missing tool is under KEYBRIDGE_REQUIRE_TOOLS=1. */
export function missingToolError(what, reason) {
  return new Error(
    `${what} cannot run: ${reason}. ${REQUIRE_TOOLS_VARIABLE}=1 (set by .ci/run) makes a missing tool a failure, not a skip.`,
  );
}
