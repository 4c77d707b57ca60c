import type { BorrowRow } from "../ledger/index.js";
import type { RegistryBorrow } from "../reconcile/index.js";
import { BORROWS_PATH, type RegistryOp, type RegistryTree, type RegistryValue } from "../registry/index.js";
import { isoTime } from "./iso-time.js";

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
export function isMirrored(row: BorrowRow): boolean {
  return row.state === "active" || row.state === "returning";
}

export function entryValues(row: BorrowRow): Record<string, RegistryValue> {
  return {
    Product: { type: "u32", value: row.product },
    Client: { type: "string", value: row.client },
    Issued: { type: "string", value: isoTime(row.issuedAt) },
    Expires: { type: "string", value: isoTime(row.expiresAt) },
    Binding: { type: "binary", value: Buffer.from(row.binding, "hex") },
    Tag: { type: "binary", value: Buffer.from(row.tag, "hex") },
    OpId: { type: "binary", value: Buffer.from(row.opId, "hex") },
  };
}

export function writeOps(row: BorrowRow): RegistryOp[] {
  const path = borrowPath(row.serial, row.id);
  // Delete first: a stale value of another name never survives a rewrite.
  const ops: RegistryOp[] = [
    { op: "deleteKey", path },
    { op: "createKey", path },
  ];
  for (const [name, value] of Object.entries(entryValues(row))) ops.push({ op: "set", path, name, value });
  return ops;
}

/** The whole Borrows subtree as the ledger says it should be. */
export function treeFromRows(rows: Iterable<BorrowRow>): RegistryTree {
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

function namedValue(tree: RegistryTree, name: string): RegistryValue | undefined {
  const direct = tree.values[name];
  if (direct !== undefined) return direct;
  const folded = name.toLowerCase();
  for (const [key, value] of Object.entries(tree.values)) if (key.toLowerCase() === folded) return value;
  return undefined;
}

function hexOf(value: RegistryValue | undefined): string | undefined {
  return value?.type === "binary" ? Buffer.from(value.value).toString("hex") : undefined;
}

function timeOf(value: RegistryValue | undefined): number | undefined {
  if (value?.type === "u32") return value.value * 1000;
  if (value?.type !== "string") return undefined;
  const ms = Date.parse(value.value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Reads the Borrows subtree. Entries that cannot be parsed are returned as `unparsable` (by
 * path) so the drift check rewrites or removes them; they never count as a borrow.
 */
export function parseBorrowsTree(tree: RegistryTree | undefined): { entries: ParsedEntry[]; unparsable: string[] } {
  const entries: ParsedEntry[] = [];
  const unparsable: string[] = [];
  if (tree === undefined) return { entries, unparsable };
  for (const [serial, serialTree] of Object.entries(tree.subkeys)) {
    for (const [idText, entry] of Object.entries(serialTree.subkeys)) {
      const id = Number(idText);
      const product = namedValue(entry, "Product");
      const client = namedValue(entry, "Client");
      const issuedAt = timeOf(namedValue(entry, "Issued"));
      const expiresAt = timeOf(namedValue(entry, "Expires"));
      const binding = hexOf(namedValue(entry, "Binding"));
      const tag = hexOf(namedValue(entry, "Tag"));
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
        unparsable.push(`${serialPath(serial)}\\${idText}`);
        continue;
      }
      entries.push({
        borrow: { serial, id, product: product.value, client: client.value, issuedAt, expiresAt, binding, tag },
        opId: hexOf(namedValue(entry, "OpId")),
      });
    }
  }
  return { entries, unparsable };
}

/** Does the registry entry say exactly what the ledger row says? */
export function entryMatches(entry: ParsedEntry, row: BorrowRow): boolean {
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
