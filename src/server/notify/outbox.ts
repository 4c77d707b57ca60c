import { closeSync, existsSync, openSync } from "node:fs";
import Database from "better-sqlite3";
import { KeybridgeError } from "../../errors.js";
import type { Delivery } from "./payload.js";

/** The outbox file cannot be opened or written: deliveries go on in memory only, and the log says so. */
export class NotifyOutboxError extends KeybridgeError {
  constructor(message: string, file: string, cause: unknown) {
    super("NOTIFY_OUTBOX_IO", message, { cause, details: { file } });
  }
}

export interface StoredDelivery {
  readonly outboxId: number;
  readonly webhook: string;
  readonly delivery: Delivery;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS deliveries (
  outbox_id INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  content_type TEXT NOT NULL,
  queued_at INTEGER NOT NULL
)`;

/**
 * Deliveries not yet settled, on disk: a notification waiting for a receiver that is down outlives
 * a restart of the daemon and is sent, with its original delivery id, when the daemon is back. A
 * delivery leaves the outbox once it is delivered, given up or dropped. Its own small SQLite file
 * (0600: bodies name clients and borrows), apart from the ledger, whose commits it never delays.
 */
export class Outbox {
  private readonly insert: Database.Statement;
  private readonly delete: Database.Statement;
  private readonly all: Database.Statement;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {
    this.insert = db.prepare(
      "INSERT INTO deliveries (webhook, delivery_id, type, body, content_type, queued_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.delete = db.prepare("DELETE FROM deliveries WHERE outbox_id = ?");
    this.all = db.prepare("SELECT * FROM deliveries ORDER BY outbox_id");
  }

  static open(file: string): Outbox {
    try {
      // Made 0600 before SQLite opens it: SQLite gives the -wal and -shm files the main file's mode.
      if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
      const db = new Database(file);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.exec(SCHEMA);
      return new Outbox(db, file);
    } catch (error) {
      throw new NotifyOutboxError(
        `cannot open the notification outbox ${file}: ${(error as Error).message}`,
        file,
        error,
      );
    }
  }

  add(webhook: string, delivery: Delivery): number {
    return this.guard("write", () =>
      Number(
        this.insert.run(webhook, delivery.id, delivery.type, delivery.body, delivery.contentType, Date.now())
          .lastInsertRowid,
      ),
    );
  }

  remove(outboxId: number): void {
    this.guard("update", () => this.delete.run(outboxId));
  }

  pending(): StoredDelivery[] {
    return this.guard("read", () =>
      (
        this.all.all() as {
          outbox_id: number;
          webhook: string;
          delivery_id: string;
          type: string;
          body: string;
          content_type: string;
        }[]
      ).map((row) => ({
        outboxId: row.outbox_id,
        webhook: row.webhook,
        delivery: { id: row.delivery_id, type: row.type, body: row.body, contentType: row.content_type },
      })),
    );
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private guard<T>(action: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      throw new NotifyOutboxError(
        `cannot ${action} the notification outbox ${this.file}: ${(error as Error).message}`,
        this.file,
        error,
      );
    }
  }
}
