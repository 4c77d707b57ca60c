import {
  AppCommand,
  Borrow,
  encodeErrorBody,
  GetInfo,
  GetTime,
  ListBorrows,
  ListLicenses,
  OpStatusQuery,
  Ping,
  ProtocolError,
  Provision,
  Rebind,
  Settle,
  SignedLicenseUpdateCommand,
  Status,
  VendorInfoQuery,
} from "../../src/protocol/index.js";
import type { KeyState } from "./key-state.js";
import {
  applyTime,
  borrow,
  keyInfo,
  listBorrows,
  listLicenses,
  opStatus,
  provision,
  type RuleResult,
  rebind,
  settle,
  signedLicenseUpdate,
  vendorInfo,
} from "./rules.js";

/** What the firmware sends back for one application command, before signing. */
export interface CommandAnswer {
  readonly status: Status;
  readonly body: Uint8Array;
  /** The state must be persisted before this answer leaves the key. */
  readonly persist: boolean;
}

/** `journaled`: a refusal was written to the operation journal and must be persisted too. */
function answer<T>(result: RuleResult<T>, encode: (value: T) => Uint8Array, journaled = true): CommandAnswer {
  if (!result.ok) return { status: result.status, body: encodeErrorBody(result.reason), persist: journaled };
  return { status: Status.OK, body: encode(result.value), persist: result.mutated };
}

function unknownCommand(reason: string): CommandAnswer {
  return { status: Status.UNKNOWN_COMMAND, body: encodeErrorBody(reason), persist: false };
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
        // Not offered (capability LICENSE_UPDATE clear): an unsigned set would let anyone holding the key rewrite it.
        return unknownCommand(
          "this key takes no unsigned LICENSE_UPDATE; send a vendor-signed SIGNED_LICENSE_UPDATE (0x0b)",
        );
      case AppCommand.SIGNED_LICENSE_UPDATE:
        return answer(
          signedLicenseUpdate(state, SignedLicenseUpdateCommand.decodeRequest(body), now),
          SignedLicenseUpdateCommand.encodeResponse,
        );
      case AppCommand.PROVISION:
        return answer(provision(state, Provision.decodeRequest(body)), Provision.encodeResponse, false);
      case AppCommand.VENDOR_INFO:
        VendorInfoQuery.decodeRequest(body);
        return readOnly(VendorInfoQuery.encodeResponse(vendorInfo(state)));
      case AppCommand.GET_TIME:
        GetTime.decodeRequest(body);
        return readOnly(GetTime.encodeResponse({ keyTimeMs: now, settleWindowMs: state.settleWindowMs }));
      case AppCommand.PING:
        return readOnly(Ping.decodeRequest(body));
      case AppCommand.OP_STATUS:
        return readOnly(OpStatusQuery.encodeResponse(opStatus(state, OpStatusQuery.decodeRequest(body).opId)));
      default:
        return unknownCommand(`unknown command 0x${command.toString(16)}`);
    }
  } catch (error) {
    if (error instanceof ProtocolError || error instanceof RangeError) {
      return { status: Status.BAD_REQUEST, body: encodeErrorBody(error.message), persist: false };
    }
    throw error;
  }
}
