import { constants } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { DEVICE_GROUP, findGroup } from "./group-check.js";

/** Why the key's node cannot be opened for reading and writing, or undefined when it can. */
export type AccessProblem = (path: string) => Promise<string | undefined>;

/** This process's own access, without opening the node. */
export const ownAccessProblem: AccessProblem = async (path) => {
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
};

/**
 * Root passes any access check, so for root the question is whether the keybridge service could
 * open the node: read/write for everyone, or for the group the udev rules set.
 */
export function serviceAccessProblem(
  readGroupFile: () => Promise<string> = () => readFile("/etc/group", "utf8"),
): AccessProblem {
  return async (path) => {
    const node = await stat(path);
    if ((node.mode & 0o006) === 0o006) return undefined;
    const group = findGroup(await readGroupFile(), DEVICE_GROUP);
    if (group !== undefined && node.gid === group.gid && (node.mode & 0o060) === 0o060) return undefined;
    return `not readable and writable by the ${DEVICE_GROUP} service (gid ${node.gid}, mode 0${(node.mode & 0o777).toString(8)})`;
  };
}
