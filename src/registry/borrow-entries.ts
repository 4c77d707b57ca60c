import type { LedgerBorrow, RegistryBorrow } from "../vocabulary/index.js";
import { valueLine } from "./ini-codec.js";
import { BORROWS_PATH } from "./path.js";
import type {
  RegistryAdapter,
  RegistryEntry,
  RegistryKeyListing,
  RegistryOp,
  RegistryTree,
  RegistryValue,
} from "./types.js";

/**
 * One registry key per outstanding borrow: `SOFTWARE\keybridge\Borrows\<serial>\<id>` with
 * Product (u32), Client (string), Issued and Expires (ISO 8601 strings, millisecond precision,
 * so they compare exactly with the key's and the ledger's times), Binding, Tag and OpId (binary).
 */
export function borrowPath(serial: string, id: number): string {
  return `${BORROWS_PATH}\\${serial}\\${id}`;
}

export function serialPath(serial: string): string {
  return `${BORROWS_PATH}\\${serial}`;
}

/** Only borrows a client still holds are mirrored; a dummy's entry is gone (the key made it already). */
export function isMirrored(row: LedgerBorrow): boolean {
  return row.state === "active" || row.state === "returning";
}

export function entryValues(row: LedgerBorrow): Record<string, RegistryValue> {
  return {
    Product: { type: "u32", value: row.product },
    Client: { type: "string", value: row.client },
    Issued: { type: "string", value: new Date(row.issuedAt).toISOString() },
    Expires: { type: "string", value: new Date(row.expiresAt).toISOString() },
    Binding: { type: "binary", value: Buffer.from(row.binding, "hex") },
    Tag: { type: "binary", value: Buffer.from(row.tag, "hex") },
    OpId: { type: "binary", value: Buffer.from(row.opId, "hex") },
  };
}

export function writeOps(row: LedgerBorrow): RegistryOp[] {
  const path = borrowPath(row.serial, row.id);
  // Delete first: a stale value of another name never survives a rewrite.
  return [{ op: "deleteKey", path }, { op: "createKey", path }, ...setOps(row)];
}

/** Only the values: for an entry whose key is known to be absent (sets create it). */
export function setOps(row: LedgerBorrow): RegistryOp[] {
  const path = borrowPath(row.serial, row.id);
  const ops: RegistryOp[] = [];
  for (const [name, value] of Object.entries(entryValues(row))) ops.push({ op: "set", path, name, value });
  return ops;
}

/** The whole Borrows subtree as the ledger says it should be. */
export function treeFromRows(rows: Iterable<LedgerBorrow>): RegistryTree {
  const serials: Record<string, RegistryTree> = {};
  for (const row of rows) {
    if (!isMirrored(row)) continue;
    serials[row.serial] ??= { values: {}, subkeys: {} };
    (serials[row.serial] as RegistryTree).subkeys[String(row.id)] = { values: entryValues(row), subkeys: {} };
  }
  return { values: {}, subkeys: { Borrows: { values: {}, subkeys: serials } } };
}

export interface ParsedEntry {
  borrow: RegistryBorrow;
  opId: string | undefined;
}

function namedValue(values: readonly RegistryEntry[], name: string): RegistryValue | undefined {
  for (const entry of values) if (entry.name === name) return entry.value;
  const folded = name.toLowerCase();
  for (const entry of values) if (entry.name.toLowerCase() === folded) return entry.value;
  return undefined;
}

function hexOf(value: RegistryValue | undefined): string | undefined {
  if (value?.type !== "binary") return undefined;
  const bytes = value.value;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function timeOf(value: RegistryValue | undefined): number | undefined {
  if (value?.type === "u32") return value.value * 1000;
  if (value?.type !== "string") return undefined;
  const ms = Date.parse(value.value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** One entry `Borrows\<serial>\<idText>` from its values; `undefined` when it is not a well-formed entry. */
export function parseBorrowEntry(
  serial: string,
  idText: string,
  values: readonly RegistryEntry[],
): ParsedEntry | undefined {
  const id = Number(idText);
  const product = namedValue(values, "Product");
  const client = namedValue(values, "Client");
  const issuedAt = timeOf(namedValue(values, "Issued"));
  const expiresAt = timeOf(namedValue(values, "Expires"));
  const binding = hexOf(namedValue(values, "Binding"));
  const tag = hexOf(namedValue(values, "Tag"));
  if (
    !Number.isSafeInteger(id) ||
    id <= 0 ||
    product?.type !== "u32" ||
    client?.type !== "string" ||
    issuedAt === undefined ||
    expiresAt === undefined ||
    binding === undefined ||
    tag === undefined
  ) {
    return undefined;
  }
  return {
    borrow: { serial, id, product: product.value, client: client.value, issuedAt, expiresAt, binding, tag },
    opId: hexOf(namedValue(values, "OpId")),
  };
}

/** An entry key as a scan meets it: values decoded on demand, and the stored text where the store has it. */
export type EntryKey = Pick<RegistryKeyListing, "values" | "valueLines">;

/**
 * Visits the Borrows subtree in batches: `onEntryKey` for each `<serial>\\<id>` key, through
 * `readKeys` where the adapter has it, so a large registry is never decoded all at once. Returns
 * the serials whose key holds neither values nor entries (left behind by returns).
 */
export async function scanBorrowKeys(
  registry: RegistryAdapter,
  onEntryKey: (serial: string, idText: string, key: EntryKey) => void,
): Promise<{ emptySerials: string[] }> {
  const emptySerials: string[] = [];
  const visit = (parts: readonly string[], key: EntryKey, hasSubkeys: boolean) => {
    if (parts.length === 1) {
      if (!hasSubkeys && key.values.length === 0) emptySerials.push(parts[0]!);
    } else if (parts.length === 2) {
      onEntryKey(parts[0]!, parts[1]!, key);
    }
  };
  if (registry.readKeys !== undefined) {
    for await (const batch of registry.readKeys(BORROWS_PATH)) {
      for (const key of batch) visit(key.parts, key, key.hasSubkeys);
    }
  } else {
    const tree = await registry.readTree(BORROWS_PATH);
    for (const [serial, serialTree] of Object.entries(tree?.subkeys ?? {})) {
      const subkeys = Object.entries(serialTree.subkeys);
      visit([serial], { values: valuesOf(serialTree) }, subkeys.length > 0);
      for (const [idText, entry] of subkeys) visit([serial, idText], { values: valuesOf(entry) }, false);
    }
  }
  return { emptySerials };
}

/**
 * What `encodeValueLines` gives for `entryValues(row)`, in the order `writeOps` sets them, built
 * from the row's hex without converting bytes: the drift check compares every entry with it.
 */
export function entryValueLines(row: LedgerBorrow): string {
  return [
    valueLine.u32("Product", row.product),
    valueLine.string("Client", row.client),
    valueLine.string("Issued", new Date(row.issuedAt).toISOString()),
    valueLine.string("Expires", new Date(row.expiresAt).toISOString()),
    valueLine.hex("Binding", row.binding),
    valueLine.hex("Tag", row.tag),
    valueLine.hex("OpId", row.opId),
  ].join("\n");
}

function valuesOf(tree: RegistryTree): RegistryEntry[] {
  return Object.entries(tree.values).map(([name, value]) => ({ name, value }));
}

/** What a read of the Borrows subtree found. */
export interface BorrowsRead {
  entries: ParsedEntry[];
  /** Paths of entry keys that are not well-formed: the drift check rewrites or removes them. */
  unparsable: string[];
}

/**
 * Reads the whole Borrows subtree (see `scanBorrowKeys`). `expected(serial, id)` names the row an
 * entry should mirror: an entry whose stored text is exactly that row's (`entryValueLines`) is
 * taken from the row without decoding (what decoding would give, sharing the row's strings); any
 * other entry is decoded.
 */
export async function readBorrows(
  registry: RegistryAdapter,
  expected: (serial: string, id: number) => LedgerBorrow | undefined = () => undefined,
): Promise<BorrowsRead> {
  const entries: ParsedEntry[] = [];
  const unparsable: string[] = [];
  await scanBorrowKeys(registry, (serial, idText, key) => {
    const row = key.valueLines === undefined ? undefined : expected(serial, Number(idText));
    if (row !== undefined && String(row.id) === idText && key.valueLines === entryValueLines(row)) {
      entries.push(entryOfRow(row));
      return;
    }
    const entry = parseBorrowEntry(serial, idText, key.values);
    if (entry === undefined) unparsable.push(`${serialPath(serial)}\\${idText}`);
    else entries.push(entry);
  });
  return { entries, unparsable };
}

/** The entry a registry key written from `row` holds. */
export function entryOfRow(row: LedgerBorrow): ParsedEntry {
  const { serial, id, product, client, issuedAt, expiresAt, binding, tag, opId } = row;
  return { borrow: { serial, id, product, client, issuedAt, expiresAt, binding, tag }, opId };
}

/** Does the registry entry say exactly what the ledger row says? */
export function entryMatches(entry: ParsedEntry, row: LedgerBorrow): boolean {
  const b = entry.borrow;
  return (
    b.product === row.product &&
    b.client === row.client &&
    b.issuedAt === row.issuedAt &&
    b.expiresAt === row.expiresAt &&
    b.binding === row.binding &&
    b.tag === row.tag &&
    entry.opId === row.opId
  );
}
