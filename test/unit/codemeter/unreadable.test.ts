import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { MemoryPositionStore } from "../../../src/codemeter/sources/position-store.js";
import { IniServerConfigSource } from "../../../src/codemeter/sources/server-config.js";
import { FollowedTrackingLog } from "../../../src/codemeter/sources/tracking-log.js";
import { describeNeeding, Requirement } from "../../support/require-tool.js";

/**
 * A log directory or Server.ini that loses read permission. Root reads everything whatever the
 * mode bits, and CI runs tests as root: this file (its own process, vitest runs each file in a
 * fork) first gives up root for the unprivileged user `nobody`, so permissions count. Where that
 * is not possible (no CAP_SETUID), the test is skipped and says why.
 */

const NOBODY = 65_534;

function dropRoot(): string | null {
  const { getuid, setgid, setuid } = process;
  if (getuid === undefined || setgid === undefined || setuid === undefined) return "no POSIX user ids here";
  if (getuid() !== 0) return null;
  try {
    setgid(NOBODY);
    setuid(NOBODY);
    return null;
  } catch (error) {
    return `running as root and cannot switch to uid ${NOBODY} (${(error as Error).message})`;
  }
}

const whyNot = dropRoot();
// Made after giving up root, so the unprivileged user can also remove it.
const parent = mkdtempSync(join(tmpdir(), "keybridge-codemeter-perm-"));

afterAll(() => {
  for (const path of [
    join(parent, "log"),
    join(parent, "log2"),
    join(parent, "log2", "a.log"),
    join(parent, "Server.ini"),
  ]) {
    if (existsSync(path)) chmodSync(path, 0o755);
  }
  rmSync(parent, { recursive: true, force: true });
});

describeNeeding(
  Requirement.of("a user without root's read-everything privilege", whyNot ?? undefined),
  "permissions",
  () => {
    it("a log directory that loses read permission is a finding; reading resumes when it is back", async () => {
      const dir = join(parent, "log");
      mkdirSync(dir);
      writeFileSync(join(dir, "synthetic.log"), '2026-03-02T08:00:00 Release Server:"s", AccessID:1\n');
      const log = new FollowedTrackingLog({ directory: dir, positions: () => new MemoryPositionStore() });
      const entries: unknown[] = [];
      expect((await log.read((batch) => entries.push(...batch.entries))).status.state).toBe("ok");
      expect(entries).toHaveLength(1);
      chmodSync(dir, 0o000);
      const denied = await log.read(() => undefined);
      expect(denied.status).toMatchObject({
        state: "unreadable",
        findings: [
          expect.objectContaining({ code: "tracking-dir-unreadable", message: expect.stringContaining("EACCES") }),
        ],
      });
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, "synthetic.log"), '2026-03-02T08:00:01 Release Server:"s", AccessID:2\n', { flag: "a" });
      expect((await log.read((batch) => entries.push(...batch.entries))).status.state).toBe("ok");
      expect(entries).toHaveLength(2);
    });

    it("a log file without read permission is a finding; the other files are read", async () => {
      const dir = join(parent, "log2");
      mkdirSync(dir);
      writeFileSync(join(dir, "a.log"), '2026-03-02T08:00:00 Release Server:"s", AccessID:1\n');
      writeFileSync(join(dir, "b.log"), '2026-03-02T08:00:00 Release Server:"s", AccessID:2\n');
      chmodSync(join(dir, "a.log"), 0o000);
      const log = new FollowedTrackingLog({ directory: dir, positions: () => new MemoryPositionStore() });
      const entries: unknown[] = [];
      const result = await log.read((batch) => entries.push(...batch.entries));
      expect(entries).toHaveLength(1);
      expect(result.status.findings).toEqual([
        expect.objectContaining({ code: "tracking-file-unreadable", where: join(dir, "a.log") }),
      ]);
    });

    it("Server.ini without read permission is a finding that says what to do", async () => {
      const file = join(parent, "Server.ini");
      writeFileSync(file, "[General]\nLogLicenseTracking=1\n");
      chmodSync(file, 0o000);
      expect(await new IniServerConfigSource({ path: file, defaultTrackingDir: "/x" }).read()).toMatchObject({
        kind: "failed",
        finding: {
          code: "config-unreadable",
          message: expect.stringContaining("give the keybridge service account read access"),
        },
      });
    });
  },
);
