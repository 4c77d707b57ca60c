import { constants, type Stats } from "node:fs";
import { access, readdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SERVICE_USER } from "./data-dir-check.js";
import { findGroup } from "./group-check.js";

/**
 * Could the account keybridge runs as read a file or directory? Root may read anything, so for
 * root the answer comes from the permission bits and ownership for the service account (the
 * `keybridge` user of systemd/keybridge.service) rather than from root's own access. ACLs are
 * not seen that way: the fixes doctor gives use groups, which the bits show.
 */

export interface ServiceAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups, from /etc/group. */
  readonly groups: readonly number[];
}

export interface AccountFiles {
  readPasswd?: () => Promise<string>;
  readGroup?: () => Promise<string>;
}

async function readIfPresent(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
}

/** The `keybridge` system user with its groups, or undefined when it does not exist here. */
export async function lookupServiceAccount(
  name: string = SERVICE_USER,
  files: AccountFiles = {},
): Promise<ServiceAccount | undefined> {
  const passwd = await (files.readPasswd ?? (() => readIfPresent("/etc/passwd")))();
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user !== name || uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
    const groupFile = await (files.readGroup ?? (() => readIfPresent("/etc/group")))();
    const groups: number[] = [];
    for (const entry of groupFile.split("\n")) {
      const [groupName] = entry.split(":");
      if (groupName === undefined || groupName === "") continue;
      const group = findGroup(entry, groupName);
      if (group?.members.includes(name)) groups.push(group.gid);
    }
    return { name, uid: Number(uid), gid: Number(gid), groups };
  }
  return undefined;
}

type Need = "read" | "list" | "search";
const BITS: Record<Need, number> = { read: 4, list: 5, search: 1 };

/** The permission the bits give `account` on a node, as the kernel decides it (owner, then group, then others). */
export function bitsAllow(node: Pick<Stats, "mode" | "uid" | "gid">, account: ServiceAccount, need: Need): boolean {
  const want = BITS[need];
  if (account.uid === 0) return true;
  const shift = node.uid === account.uid ? 6 : node.gid === account.gid || account.groups.includes(node.gid) ? 3 : 0;
  return ((node.mode >> shift) & want) === want;
}

function describe(node: Pick<Stats, "mode" | "uid" | "gid">): string {
  return `owner uid ${node.uid}, group gid ${node.gid}, mode 0${(node.mode & 0o777).toString(8)}`;
}

export interface ReadableResult {
  /** What stands in the way, one line each; empty when everything can be read. */
  readonly problems: readonly string[];
  /** Files looked at in the directory. */
  readonly files: number;
  /**
   * The directory's group when that group may list it and read every file in it: joining it is
   * then the whole fix. Null otherwise (and when this process's own access was checked).
   */
  readonly readableGroup: number | null;
  /** A parent directory the account cannot pass through, if any. */
  readonly blockedParent: string | null;
}

/**
 * Can `who` list `dir` and read every file in it (and reach it through its parents)? `who` is
 * the service account (judged by the bits) or `self` (this process's own access, ACLs included).
 */
export async function directoryReadable(dir: string, who: ServiceAccount | "self"): Promise<ReadableResult> {
  const problems: string[] = [];
  let blockedParent: string | null = null;
  const node = await stat(dir);
  let groupReads = who !== "self" && node.gid !== 0 && (node.mode & 0o050) === 0o050;
  if (who === "self") {
    try {
      await access(dir, constants.R_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      return { problems: [`${dir} cannot be listed (${code})`], files: 0, readableGroup: null, blockedParent: null };
    }
  } else {
    const blocked = await parentProblem(dir, who);
    if (blocked !== undefined) {
      problems.push(blocked.problem);
      blockedParent = blocked.parent;
      groupReads = false;
    }
    if (!bitsAllow(node, who, "list")) problems.push(`${dir} cannot be listed (${describe(node)})`);
  }
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    const path = join(dir, entry.name);
    if (who === "self") {
      try {
        await access(path, constants.R_OK);
      } catch (error) {
        problems.push(`${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      }
      continue;
    }
    const file = await stat(path);
    if (file.gid !== node.gid || (file.mode & 0o040) === 0) groupReads = false;
    if (!bitsAllow(file, who, "read")) problems.push(`${path} cannot be read (${describe(file)})`);
  }
  return { problems, files, readableGroup: groupReads ? node.gid : null, blockedParent };
}

/** The first parent of `path` the account cannot pass through, or undefined. */
async function parentProblem(
  path: string,
  who: ServiceAccount,
): Promise<{ parent: string; problem: string } | undefined> {
  for (let parent = dirname(path); ; parent = dirname(parent)) {
    const up = await stat(parent);
    if (!bitsAllow(up, who, "search")) {
      return { parent, problem: `${parent} cannot be passed through (${describe(up)})` };
    }
    if (dirname(parent) === parent) return undefined;
  }
}

/** Can `who` read one file? Undefined when it can, else why not. */
export async function fileReadable(path: string, who: ServiceAccount | "self"): Promise<string | undefined> {
  if (who === "self") {
    try {
      await access(path, constants.R_OK);
      return undefined;
    } catch (error) {
      return `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    }
  }
  const blocked = await parentProblem(path, who);
  if (blocked !== undefined) return blocked.problem;
  const node = await stat(path);
  return bitsAllow(node, who, "read") ? undefined : `${path} cannot be read (${describe(node)})`;
}

/** The name of group `gid` in /etc/group, or the number. */
export async function groupName(gid: number, readGroup?: () => Promise<string>): Promise<string> {
  const text = await (readGroup ?? (() => readIfPresent("/etc/group")))();
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (name !== undefined && id === String(gid)) return name;
  }
  return String(gid);
}

export interface AccessFixInputs {
  readonly path: string;
  readonly kind: "directory" | "file";
  /** Who must read it: the service account's name, or `$USER` for this account. */
  readonly user: string;
  /** Judged by the permission bits (the service account) or by this process's own access. */
  readonly byBits: boolean;
  readonly platform: NodeJS.Platform;
  /** A group that can already read everything (directoryReadable's readableGroup). */
  readonly readableGroup?: number | null;
  readonly blockedParent?: string | null;
  readonly readGroup?: () => Promise<string>;
}

/**
 * The commands that let the account read `path`, nothing wider: joining a group that already
 * reads it; else, for the service account, giving `path` its group (new log files inherit it
 * from a setgid directory); for this account, an ACL (which its own access check sees).
 */
export async function readAccessFix(inputs: AccessFixInputs): Promise<string> {
  const { path, user } = inputs;
  if (inputs.platform === "win32") {
    return `give ${user === "$USER" ? "the account keybridge runs as" : user} read access to ${path} (Properties → Security)`;
  }
  const lines: string[] = [];
  if (inputs.blockedParent !== undefined && inputs.blockedParent !== null) {
    lines.push(`sudo chmod o+x ${inputs.blockedParent}`);
  }
  const restart =
    user === "$USER" ? "then log in again" : "then sudo systemctl restart keybridge, so the service has the group";
  if (inputs.readableGroup !== undefined && inputs.readableGroup !== null) {
    lines.push(`sudo usermod -aG ${await groupName(inputs.readableGroup, inputs.readGroup)} ${user}`, restart);
    return lines.join("\n");
  }
  if (!inputs.byBits) {
    if (inputs.kind === "directory") {
      lines.push(
        `sudo setfacl -m u:${user}:rx ${path} && sudo setfacl -d -m u:${user}:r ${path}`,
        `sudo setfacl -m u:${user}:r ${path}/*`,
      );
    } else lines.push(`sudo setfacl -m u:${user}:r ${path}`);
    return lines.join("\n");
  }
  if (inputs.kind === "directory") {
    lines.push(
      `sudo chgrp ${user} ${path} ${path}/* && sudo chmod g+rx ${path} && sudo chmod g+r ${path}/*`,
      `sudo chmod g+s ${path}    (log files CodeMeter creates later get the group ${user} too)`,
    );
  } else lines.push(`sudo chgrp ${user} ${path} && sudo chmod g+r ${path}`);
  return lines.join("\n");
}
