import type { ServerResponse } from "node:http";
import type { Subscription } from "rxjs";
import type { Bridge, BridgeEvent, EventHistoryView } from "../bridge/api.js";

/** A slow reader is dropped (it reconnects) rather than buffering without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * At most this many missed events are replayed on reconnect: far below what would fill the buffer
 * limit above (a replay that did would drop the reader, who would reconnect and ask again).
 */
const MAX_REPLAY = 200;

/** An event of the bus carries its SSE id (`<runId>-<seq>`), which the browser sends back on reconnect. */
export function formatEvent(event: BridgeEvent, runId?: string): string {
  const id = runId !== undefined && event.seq !== undefined ? `id: ${runId}-${event.seq}\n` : "";
  return `${id}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The events a reconnecting reader missed, from its `Last-Event-ID`; none for a new reader. */
function missedEvents(bridge: Bridge, lastEventId: string | undefined): EventHistoryView | undefined {
  if (lastEventId === undefined || lastEventId === "") return undefined;
  const match = /^([0-9a-f]+)-([0-9]{1,15})$/.exec(lastEventId);
  const current = bridge.recentEvents({ limit: 0 });
  // An id of another run (the daemon restarted) or one we never issued: everything kept is news.
  const after = match?.[1] === current.runId ? Number(match[2]) : 0;
  return bridge.recentEvents({ after, limit: MAX_REPLAY });
}

/**
 * The open server-sent event streams. A reader that reconnects with `Last-Event-ID` first gets the
 * kept events it missed (oldest first). Every stream then gets the open risks (as `risk.raised`
 * events with `details.open: true`: the state now, after whatever was replayed), then every bridge
 * event, and a comment line as heartbeat. Everything is released when the client goes away or the
 * server closes.
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

  open(response: ServerResponse, lastEventId?: string): void {
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
    // Replay, snapshot and subscription happen in this one synchronous block: no event can fall between.
    const missed = missedEvents(this.bridge, lastEventId);
    if (missed !== undefined) {
      if (missed.truncated)
        write(
          ": some missed events are not replayed (older than the newest 200, or no longer kept); re-read the state (GET /v1/status)\n\n",
        );
      for (const event of missed.events) write(formatEvent(event, missed.runId));
    }
    const runId = missed?.runId ?? this.bridge.recentEvents({ limit: 0 }).runId;
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
      next: (event) => write(formatEvent(event, runId)),
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
