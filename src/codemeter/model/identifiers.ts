/**
 * CodeMeter's identifiers: serials `<mask>-<number>` (CmStick masks 1–3, CmActLicense 127, 128,
 * 130, CmCloud 140), license ids `<mask>-<serial>-<firm code>-<product item>` and borrow ids
 * `<mask>-<serial>-<firm code>-<enabling block index>`, where the borrow id names the borrowing
 * client's container. License ids can change after a plug-out or re-programming, so a license
 * is named by serial + firm code + product code, never by its license id alone.
 */

export type ContainerKind = "CmStick" | "CmActLicense" | "CmCloud" | "unknown";

export interface ParsedId {
  /** `<mask>-<number>` */
  readonly serial: string;
  readonly firmCode: number;
  /** Product item reference (license id) or enabling block index (borrow id). */
  readonly index: number;
}

const ID = /^(\d{1,3})-(\d{1,12})-(\d{1,12})-(\d{1,12})$/;
const SERIAL = /^(\d{1,3})-(\d{1,12})$/;

export function parseFourPartId(id: string | null): ParsedId | null {
  if (id === null) return null;
  const match = ID.exec(id.trim());
  if (!match) return null;
  return { serial: `${Number(match[1])}-${match[2]}`, firmCode: Number(match[3]), index: Number(match[4]) };
}

export function containerKind(serial: string | null): ContainerKind {
  if (serial === null) return "unknown";
  const match = SERIAL.exec(serial.trim());
  if (!match) return "unknown";
  const mask = Number(match[1]);
  if (mask >= 1 && mask <= 3) return "CmStick";
  if (mask === 127 || mask === 128 || mask === 130) return "CmActLicense";
  if (mask === 140) return "CmCloud";
  return "unknown";
}

/**
 * Does a serial reported by USB (whose form is not documented: `3-6903986`, or digits only) name
 * the same container as a CodeMeter serial `<mask>-<number>`?
 */
export function sameContainer(usbSerial: string, codeMeterSerial: string): boolean {
  const a = usbSerial.trim();
  const b = codeMeterSerial.trim();
  if (a === "" || b === "") return false;
  if (a === b) return true;
  const number = SERIAL.exec(b)?.[2];
  const usbNumber = SERIAL.exec(a)?.[2] ?? (/^\d+$/.test(a) ? a : undefined);
  return number !== undefined && usbNumber !== undefined && Number(number) === Number(usbNumber);
}
