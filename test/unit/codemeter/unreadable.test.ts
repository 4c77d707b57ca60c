import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { MemoryPositionStore } from "../../../src/codemeter/sources/position-store.js";
import { IniServerConfigSource } from "../../../src/codemeter/sources/server-config.js";
import { FollowedTrackingLog } from "../../../src/codemeter/sources/tracking-log.js";
import { describeNeeding, Requirement } from "../../support/require-tool.js";
import { snapshot, watchedWorld } from "./helpers.js";

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

    it("the watch: a log directory and Server.ini that lose read permission are findings; the picture is kept, nothing written", async () => {
      const world = await watchedWorld({ cmuTimeoutMs: 20_000 });
      const { sim, watch } = world;
      sim.advance(3_600_000);
      sim.borrow("ws-anna", "anna", 1001);
      sim.advance(60_000);
      await world.look();
      const good = watch.view();
      expect(good.borrows).toHaveLength(1);
      // CodeMeter's tree (the simulator's own bookkeeping under sim/ changes as cmu is asked).
      const tree = () => ["etc", "var", "usr"].map((part) => snapshot(join(sim.root, part)));
      const files = tree();
      const modes = [sim.paths.logDir, sim.paths.serverIni].map(
        (path) => [path, statSync(path).mode & 0o7777] as const,
      );
      chmodSync(sim.paths.logDir, 0o000);
      chmodSync(sim.paths.serverIni, 0o000);
      try {
        await world.look();
        const view = watch.view();
        expect(view.findings.map((finding) => finding.code).sort()).toEqual([
          "config-unreadable",
          "tracking-dir-unreadable",
        ]);
        expect(view.borrows).toEqual(good.borrows);
        expect(view.config).toEqual(good.config);
        expect(view.tracking.enabled).toBe(true);
        expect(watch.risks().map((risk) => risk.kind)).not.toContain("registry-lost");
      } finally {
        for (const [path, mode] of modes) chmodSync(path, mode);
      }
      // The comparison reads the files, so it waits for the permissions to be given back.
      expect(tree()).toEqual(files);
      await world.look();
      expect(watch.view().findings).toEqual([]);
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
