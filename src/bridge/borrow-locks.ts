import { borrowKey } from "../vocabulary/index.js";

/**
 * The borrows an operation is working on right now, so that the others leave them alone:
 * - a borrow sent to its key whose row is not written yet, by its opId: recovery and the dummy
 *   recorder must not take the key's record for an unacknowledged one (and roll it back) while
 *   the borrow is about to be acknowledged;
 * - an outstanding borrow with a return, settle or rebind running, by serial and id: a second one
 *   would send a second SETTLE or REBIND, and recovery must not complete it under the first.
 */
export class BorrowLocks {
  private readonly unrecorded = new Set<string>();
  private readonly busy = new Set<string>();

  /** The borrow with this opId (hex) was sent to the key; its row follows. */
  lockUnrecorded(opId: string): void {
    this.unrecorded.add(opId);
  }

  unlockUnrecorded(opId: string): void {
    this.unrecorded.delete(opId);
  }

  isUnrecorded(opId: string): boolean {
    return this.unrecorded.has(opId);
  }

  /** Takes the borrow for a return, settle or rebind; false when another one holds it. */
  tryLock(serial: string, id: number): boolean {
    const key = borrowKey(serial, id);
    if (this.busy.has(key)) return false;
    this.busy.add(key);
    return true;
  }

  unlock(serial: string, id: number): void {
    this.busy.delete(borrowKey(serial, id));
  }

  isLocked(serial: string, id: number): boolean {
    return this.busy.has(borrowKey(serial, id));
  }
}
