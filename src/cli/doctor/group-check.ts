import { readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { type CheckOutcome, type DoctorCheck, ok, skip, warn } from "./types.js";

/** The GROUP of udev/70-keybridge.rules and the service account's group (systemd/keybridge.sysusers.conf). */
export const DEVICE_GROUP = "keybridge";

export interface GroupCheckInputs {
  platform?: NodeJS.Platform;
  uid?: number;
  userName?: string;
  /** The groups this process runs with (supplementary and effective). */
  processGroups?: readonly number[];
  /** The text of /etc/group. */
  readGroupFile?: () => Promise<string>;
}

interface GroupEntry {
  gid: number;
  members: string[];
}

export function findGroup(groupFile: string, name: string): GroupEntry | undefined {
  for (const line of groupFile.split("\n")) {
    const [groupName, , gid, members] = line.split(":");
    if (groupName === name && gid !== undefined && /^\d+$/.test(gid)) {
      return { gid: Number(gid), members: (members ?? "").split(",").filter((m) => m !== "") };
    }
  }
  return undefined;
}

function currentGroups(): number[] {
  const groups = process.getgroups?.() ?? [];
  const effective = process.getegid?.();
  return effective === undefined ? groups : [...groups, effective];
}

export async function checkGroup(inputs: GroupCheckInputs = {}): Promise<CheckOutcome> {
  const platform = inputs.platform ?? process.platform;
  if (platform !== "linux") return skip(`device groups are set by udev, which is Linux only (this is ${platform})`);
  const uid = inputs.uid ?? process.getuid?.();
  if (uid === 0) return ok("running as root");
  const user = inputs.userName ?? userInfo().username;
  const groupFile = await (inputs.readGroupFile ?? (() => readFile("/etc/group", "utf8")))();
  const group = findGroup(groupFile, DEVICE_GROUP);
  if (group === undefined) {
    return warn(
      `the group ${DEVICE_GROUP} does not exist, so the udev rules cannot give it the key`,
      "sudo install -m 0644 systemd/keybridge.sysusers.conf /etc/sysusers.d/keybridge.conf && sudo systemd-sysusers\n" +
        "then reinstall the udev rules (see udev-rules) and replug the key",
    );
  }
  const groups = inputs.processGroups ?? currentGroups();
  if (groups.includes(group.gid)) return ok(`${user} is in the group ${DEVICE_GROUP}`);
  if (group.members.includes(user)) {
    return warn(
      `${user} was added to the group ${DEVICE_GROUP}, but this session does not have it yet`,
      "log out and in again (or run `newgrp keybridge`)",
    );
  }
  return warn(
    `${user} is not root and not in the group ${DEVICE_GROUP}: only the keybridge service and the user at the seat can open keys`,
    `sudo usermod -aG ${DEVICE_GROUP} ${user}, then log out and in again`,
  );
}

export function groupCheck(inputs?: GroupCheckInputs): DoctorCheck {
  return { id: "group", title: "device group", run: () => checkGroup(inputs) };
}
