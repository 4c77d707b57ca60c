import type { BigIntStats } from "node:fs";
import { mkdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { layerLogger } from "../log.js";
import { SerialQueue } from "../serial-queue.js";
import { type AtomicWriteHooks, removeLeftoverTemps, writeFileAtomic } from "./atomic-file.js";
import { acquireFileLock } from "./file-lock.js";
import { errnoCode, mapFsError } from "./fs-errors.js";
import { decodeIniBody, parseIniTextChunked, serializeIni, verifyIniChecksumChunked } from "./ini-format.js";
import { KeyNode, TreeDraft } from "./key-tree.js";
import { TreeRegistry } from "./tree-registry.js";
import type { RegistryDescription } from "./types.js";

const log = layerLogger("registry");

export interface IniRegistryOptions {
  /** The registry file; default from `defaultIniRegistryPath()`. */
  path?: string;
  /** How long a write waits for another process holding the lock; default 5 s. */
  lockTimeoutMs?: number;
  /** Fault injection for crash tests. */
  hooks?: AtomicWriteHooks;
}

/**
 * `/var/lib/keybridge/registry.ini` for root, else `$XDG_STATE_HOME/keybridge/registry.ini`
 * (falling back to `~/.local/state/keybridge/registry.ini`).
 */
export function defaultIniRegistryPath(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
): string {
  if (uid === 0) return "/var/lib/keybridge/registry.ini";
  const stateHome = env.XDG_STATE_HOME?.startsWith("/") ? env.XDG_STATE_HOME : undefined;
  return join(stateHome ?? join(homedir(), ".local", "state"), "keybridge", "registry.ini");
}

interface CachedTree {
  stats: BigIntStats;
  checksum: string;
  root: KeyNode;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/**
 * The registry as one INI file (the way CodeMeter keeps its server settings on Linux and macOS).
 * Reads need no lock (writes replace the file atomically); writes hold the inter-process lock
 * `<file>.lock`, re-read the current file, and replace it in one atomic write.
 */
export class IniRegistry extends TreeRegistry {
  readonly file: string;
  readonly lockFile: string;
  private readonly lockTimeoutMs: number;
  private readonly hooks: AtomicWriteHooks | undefined;
  private cache: CachedTree | undefined;
  private readonly writes = new SerialQueue();
  private loading: Promise<KeyNode> | undefined;

  constructor(options: IniRegistryOptions = {}) {
    super();
    this.file = options.path ?? defaultIniRegistryPath();
    this.lockFile = `${this.file}.lock`;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 5_000;
    this.hooks = options.hooks;
  }

  describe(): RegistryDescription {
    return { kind: "ini", location: this.file };
  }

  /** Same as `replaceAll`: rewrites the file from `tree` even when the current file is corrupt. */
  async repairFromScratch(tree: Parameters<TreeRegistry["replaceAll"]>[0]): Promise<void> {
    await this.replaceAll(tree);
  }

  protected async snapshot(): Promise<KeyNode> {
    return this.load();
  }

  protected update<T>(mutate: (draft: TreeDraft) => T): Promise<T> {
    return this.exclusive(async () => {
      const draft = new TreeDraft(await this.load());
      const result = mutate(draft);
      if (draft.changed) await this.store(draft.root);
      return result;
    });
  }

  protected replace(root: KeyNode): Promise<void> {
    return this.exclusive(() => this.store(root));
  }

  protected async release(): Promise<void> {
    await this.writes.idle();
    this.cache = undefined;
  }

  /** One writer at a time in this process (queue) and across processes (lock file). */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = async () => {
      await this.ensureDirectory();
      const lock = await acquireFileLock(this.lockFile, {
        timeoutMs: this.lockTimeoutMs,
        onStale: (holder) => log.warn("took over a stale registry lock", { lockFile: this.lockFile, holder }),
      });
      try {
        return await work();
      } finally {
        if (!(await lock.release())) {
          log.warn("registry lock was taken over by another process while held", { lockFile: this.lockFile });
        }
      }
    };
    return this.writes.run(run);
  }

  private async ensureDirectory(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      throw mapFsError(error, "create the registry directory", dirname(this.file));
    });
  }

  /**
   * The parsed file; re-read only when the file changed (inode, size, times), else from cache. A
   * read hashes and parses in chunks with yields between, so a large registry does not stall the
   * daemon; concurrent callers share one read.
   */
  private async load(): Promise<KeyNode> {
    const stats = await this.statFile();
    if (stats === undefined) {
      this.cache = undefined;
      return new KeyNode("");
    }
    if (this.cache !== undefined && sameFile(this.cache.stats, stats)) return this.cache.root;
    const pending = this.loading;
    if (pending !== undefined) {
      await pending.catch(() => undefined);
      return this.load();
    }
    const loading = this.readAndParse(stats);
    this.loading = loading;
    try {
      return await loading;
    } finally {
      this.loading = undefined;
    }
  }

  private async readAndParse(stats: BigIntStats): Promise<KeyNode> {
    const verified = await this.readVerified();
    if (verified === undefined) {
      this.cache = undefined;
      return new KeyNode("");
    }
    const { checksum, text } = verified;
    // The bytes are gone by now: only the text (one copy of the file) is held while it is parsed.
    const root =
      this.cache?.checksum === checksum || text === undefined
        ? (this.cache as CachedTree).root
        : await parseIniTextChunked(text, this.file, yieldToEventLoop);
    // The stats taken before the read may predate a concurrent replace; re-stat so a change is not masked.
    const after = await this.statFile();
    this.cache = after !== undefined && sameFile(after, stats) ? { stats, checksum, root } : undefined;
    return root;
  }

  /** The file's checksum, and its text unless the cached tree already has that checksum. */
  private async readVerified(): Promise<{ checksum: string; text: string | undefined } | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file);
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return undefined;
      throw mapFsError(error, "read", this.file);
    }
    const { checksum, body } = await verifyIniChecksumChunked(bytes, this.file, yieldToEventLoop);
    return { checksum, text: this.cache?.checksum === checksum ? undefined : decodeIniBody(body, this.file) };
  }

  private async statFile(): Promise<BigIntStats | undefined> {
    try {
      return await stat(this.file, { bigint: true });
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return undefined;
      throw mapFsError(error, "read", this.file);
    }
  }

  private async store(root: KeyNode): Promise<void> {
    const { bytes, checksum } = serializeIni(root);
    const leftovers = await removeLeftoverTemps(this.file);
    if (leftovers.length > 0) log.info("removed temporary files of an interrupted registry write", { leftovers });
    await writeFileAtomic(this.file, bytes, { mode: 0o600, hooks: this.hooks });
    const stats = await this.statFile();
    this.cache = stats === undefined ? undefined : { stats, checksum, root };
  }
}
