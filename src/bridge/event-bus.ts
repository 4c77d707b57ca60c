import { type Observable, Subject } from "rxjs";
import type { BridgeEvent, BridgeEventType } from "./api.js";

/** The bridge's one event stream; every service publishes through it. */
export class EventBus {
  private readonly subject = new Subject<BridgeEvent>();
  readonly events$: Observable<BridgeEvent> = this.subject.asObservable();

  emit(type: BridgeEventType, message: string, extra: Omit<BridgeEvent, "type" | "at" | "message"> = {}): void {
    if (this.subject.closed) return;
    this.subject.next({ type, at: new Date().toISOString(), message, ...extra });
  }

  complete(): void {
    this.subject.complete();
  }
}
