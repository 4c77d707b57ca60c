import {
  AppCommand,
  Borrow,
  encodeErrorBody,
  GetInfo,
  GetTime,
  LicenseUpdate,
  ListBorrows,
  ListLicenses,
  OpStatusQuery,
  Ping,
  ProtocolError,
  Rebind,
  Settle,
  Status,
} from "../../src/protocol/index.js";
import type { KeyState } from "./key-state.js";
import {
  applyTime,
  borrow,
  keyInfo,
  listBorrows,
  listLicenses,
  opStatus,
  type RuleResult,
  rebind,
  settle,
  updateLicenses,
} from "./rules.js";

/** What the firmware sends back for one application command, before signing. */
export interface CommandAnswer {
  readonly status: Status;
  readonly body: Uint8Array;
  /** The state must be persisted before this answer leaves the key. */
  readonly persist: boolean;
}

function answer<T>(result: RuleResult<T>, encode: (value: T) => Uint8Array): CommandAnswer {
  if (!result.ok) return { status: result.status, body: encodeErrorBody(result.reason), persist: true };
  return { status: Status.OK, body: encode(result.value), persist: result.mutated };
}

function readOnly(body: Uint8Array): CommandAnswer {
  return { status: Status.OK, body, persist: false };
}

/**
 * Decodes a command body, applies the rules at key time `now` and encodes the answer. A body
 * that does not decode is BAD_REQUEST with the decoder's message; nothing here throws for input.
 */
export function dispatchCommand(state: KeyState, command: number, body: Uint8Array, now: number): CommandAnswer {
  applyTime(state, now);
  try {
    switch (command) {
      case AppCommand.GET_INFO:
        GetInfo.decodeRequest(body);
        return readOnly(GetInfo.encodeResponse(keyInfo(state, now)));
      case AppCommand.LIST_LICENSES:
        ListLicenses.decodeRequest(body);
        return readOnly(ListLicenses.encodeResponse(listLicenses(state)));
      case AppCommand.BORROW:
        return answer(borrow(state, Borrow.decodeRequest(body), now), Borrow.encodeResponse);
      case AppCommand.SETTLE:
        return answer(settle(state, Settle.decodeRequest(body), now), Settle.encodeResponse);
      case AppCommand.REBIND:
        return answer(rebind(state, Rebind.decodeRequest(body)), Rebind.encodeResponse);
      case AppCommand.LIST_BORROWS:
        return readOnly(ListBorrows.encodeResponse(listBorrows(state, ListBorrows.decodeRequest(body))));
      case AppCommand.LICENSE_UPDATE:
        return answer(updateLicenses(state, LicenseUpdate.decodeRequest(body), now), LicenseUpdate.encodeResponse);
      case AppCommand.GET_TIME:
        GetTime.decodeRequest(body);
        return readOnly(GetTime.encodeResponse({ keyTimeMs: now, settleWindowMs: state.settleWindowMs }));
      case AppCommand.PING:
        return readOnly(Ping.decodeRequest(body));
      case AppCommand.OP_STATUS:
        return readOnly(OpStatusQuery.encodeResponse(opStatus(state, OpStatusQuery.decodeRequest(body).opId)));
      default:
        return {
          status: Status.UNKNOWN_COMMAND,
          body: encodeErrorBody(`unknown command 0x${command.toString(16)}`),
          persist: false,
        };
    }
  } catch (error) {
    if (error instanceof ProtocolError || error instanceof RangeError) {
      return { status: Status.BAD_REQUEST, body: encodeErrorBody(error.message), persist: false };
    }
    throw error;
  }
}
