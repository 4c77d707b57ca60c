import { type CheckOutcome, type DoctorCheck, fail, ok } from "./types.js";

export const MIN_NODE_MAJOR = 20;

export function checkNodeVersion(version: string = process.versions.node): CheckOutcome {
  const major = Number(version.split(".")[0]);
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) return ok(`Node.js ${version}`);
  return fail(
    `Node.js ${version} is too old; keybridge needs ${MIN_NODE_MAJOR} or later`,
    `install Node.js ${MIN_NODE_MAJOR}+ (NodeSource packages or nodejs.org binaries; Debian 12's own nodejs is 18), then check with \`node --version\``,
  );
}

export function nodeCheck(version?: string): DoctorCheck {
  return { id: "node", title: "Node.js version", run: async () => checkNodeVersion(version) };
}
