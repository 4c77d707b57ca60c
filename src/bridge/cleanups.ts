import { layerLogger } from "../log.js";

const log = layerLogger("bridge");

type Cleanup = () => Promise<void> | void;

/**
 * What an open bridge must release, in the reverse order of opening: each part registers its
 * release as soon as it is open, so a failure half-way releases exactly what was opened.
 */
export class Cleanups {
  private readonly pending: Cleanup[] = [];

  add(cleanup: Cleanup): void {
    this.pending.push(cleanup);
  }

  /** Runs every release, newest first; one that fails is logged and the others still run. */
  async run(): Promise<void> {
    for (const cleanup of this.pending.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.warn("release during close failed", { error: String(error) });
      }
    }
  }
}
