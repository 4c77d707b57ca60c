import type { ServerResponse } from "node:http";
import type { Subscription } from "rxjs";
import type { Bridge, BridgeEvent } from "../bridge/api.js";

/** A slow reader is dropped (it reconnects) rather than buffering without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export function formatEvent(event: BridgeEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The open server-sent event streams. Each gets the open risks first (as `risk.raised` events with
 * `details.open: true`), then every bridge event, and a comment line as heartbeat. Everything is
 * released when the client goes away or the server closes.
 */
export class EventStreams {
  private readonly streams = new Set<() => void>();

  constructor(
    private readonly bridge: Bridge,
    private readonly heartbeatMs: number,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  open(response: ServerResponse): void {
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    let subscription: Subscription | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      subscription?.unsubscribe();
      if (heartbeat !== undefined) clearInterval(heartbeat);
      this.streams.delete(release);
      if (!response.writableEnded) response.end();
    };
    this.streams.add(release);
    response.on("close", release);
    response.on("error", release);

    const write = (chunk: string) => {
      if (released) return;
      response.write(chunk);
      if (response.writableLength > MAX_BUFFERED_BYTES) release();
    };
    write(": keybridge events\nretry: 2000\n\n");
    for (const risk of this.bridge.risks()) {
      write(
        formatEvent({
          type: "risk.raised",
          at: risk.since,
          ...(risk.serial === undefined ? {} : { serial: risk.serial }),
          risk,
          message: risk.message,
          details: { open: true },
        }),
      );
    }
    subscription = this.bridge.events$.subscribe({
      next: (event) => write(formatEvent(event)),
      complete: release,
      error: release,
    });
    heartbeat = setInterval(() => write(": heartbeat\n\n"), this.heartbeatMs);
    heartbeat.unref();
  }

  closeAll(): void {
    for (const release of [...this.streams]) release();
  }
}
