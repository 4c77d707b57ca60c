/** Where the CLI writes and what it reads from the environment; tests pass their own. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Resolves when the user interrupts a following command (`events --follow`). */
  interrupted?: Promise<void>;
}

export const EXIT = { ok: 0, error: 1, usage: 2, unsafe: 3 } as const;
