import type { BorrowSectionName } from "./server-config.js";

/**
 * The facts the borrow book keeps besides the borrows, persisted with them so a restart of
 * keybridge keeps its judgement: which server start re-listed what, which firm codes each log
 * file carries, the service's last known state, and the baselines of the current episode (the
 * time during which CodeMeter borrows are outstanding) that the risks compare against.
 */

export const FACTS_VERSION = 1;

/** The re-listing a server start writes, for the firm codes of one log file (or all, when unknown). */
export interface RelistWindow {
  /** Log time of the `CodeMeter_started` entry. */
  readonly start: number;
  /** The log file that carries it. */
  readonly stream: string;
  /** Borrows outstanding before the start that the start must re-list. */
  readonly expected: readonly string[];
  /** Borrow keys re-listed so far. */
  readonly relisted: readonly string[];
}

export interface ScopeFacts {
  /** Newest start judged or being judged in this scope. */
  readonly lastStart: number | null;
  readonly open: RelistWindow | null;
  /** The keys re-listed by the last closed window, to recognise older entries of ended borrows. */
  readonly lastRelisted: readonly string[];
}

export interface EpisodeFacts {
  /** When CodeMeter borrows became outstanding (epoch ms); null while none are. */
  readonly startedAt: number | null;
  readonly runtimeVersion: string | null;
  readonly runtimePresent: boolean | null;
  /** CmStick serials present when the episode began (null until known): a stick not among them is a newcomer. */
  readonly sticks: readonly string[] | null;
  /** Borrow sections seen holding values during the episode. */
  readonly sectionsWithValues: readonly BorrowSectionName[];
  /** The server configuration was found during the episode. */
  readonly configSeen: boolean;
  readonly clockNetMs: number;
  readonly clockSince: number | null;
}

export interface ServiceFacts {
  readonly running: boolean;
  /** Epoch ms of the observation. */
  readonly at: number;
  readonly via: "log" | "cmu";
}

export interface BookFacts {
  readonly version: typeof FACTS_VERSION;
  /** Keyed by the firm codes a log file carries (`fc:10,100532`), or `all` when unknown. */
  readonly scopes: Readonly<Record<string, ScopeFacts>>;
  /** Firm codes seen in each log file. */
  readonly streams: Readonly<Record<string, readonly number[]>>;
  readonly service: ServiceFacts | null;
  /** Newest `CodeMeter_started` seen in any file (epoch ms). */
  readonly lastStartAt: number | null;
  readonly episode: EpisodeFacts;
}

export const EMPTY_EPISODE: EpisodeFacts = {
  startedAt: null,
  runtimeVersion: null,
  runtimePresent: null,
  sticks: null,
  sectionsWithValues: [],
  configSeen: false,
  clockNetMs: 0,
  clockSince: null,
};

export function emptyFacts(): BookFacts {
  return { version: FACTS_VERSION, scopes: {}, streams: {}, service: null, lastStartAt: null, episode: EMPTY_EPISODE };
}

/** Facts read back from the store; anything of another shape starts fresh rather than misleads. */
export function restoreFacts(value: unknown): BookFacts {
  if (value === null || typeof value !== "object") return emptyFacts();
  const facts = value as Partial<BookFacts>;
  if (facts.version !== FACTS_VERSION || typeof facts.scopes !== "object" || typeof facts.streams !== "object") {
    return emptyFacts();
  }
  return {
    ...emptyFacts(),
    ...facts,
    episode: { ...EMPTY_EPISODE, ...(facts.episode ?? {}) },
  } as BookFacts;
}
