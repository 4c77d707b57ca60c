import { ProtocolError, ProtocolErrorCode } from "./errors.js";

/**
 * Bounds-checked big-endian reader. Every read checks the remaining length first, so a
 * hostile length can only produce a `ProtocolError`, never an out-of-range access.
 */
export class ByteReader {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private take(count: number, field: string): Uint8Array {
    if (count > this.remaining) {
      throw new ProtocolError(
        ProtocolErrorCode.TRUNCATED,
        `${this.what}: ${field} needs ${count} bytes, ${this.remaining} left`,
        { field, needed: count, remaining: this.remaining },
      );
    }
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }

  u8(field: string): number {
    return this.take(1, field)[0]!;
  }

  u16(field: string): number {
    const b = this.take(2, field);
    return (b[0]! << 8) | b[1]!;
  }

  u32(field: string): number {
    const b = this.take(4, field);
    return ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
  }

  /** u64 restricted to JS safe integers: ids and epoch-ms times never get near 2^53. */
  u64(field: string): number {
    const high = this.u32(field);
    const low = this.u32(field);
    if (high > 0x1fffff) {
      throw new ProtocolError(ProtocolErrorCode.BAD_FIELD, `${this.what}: ${field} exceeds 2^53`, { field });
    }
    return high * 0x1_0000_0000 + low;
  }

  bytesOf(count: number, field: string): Uint8Array {
    return Uint8Array.from(this.take(count, field));
  }

  /** A u8 length followed by that many UTF-8 bytes, at most `maxBytes`. */
  shortString(field: string, maxBytes: number): string {
    const length = this.u8(field);
    if (length > maxBytes) {
      throw new ProtocolError(
        ProtocolErrorCode.BAD_FIELD,
        `${this.what}: ${field} is ${length} bytes, max ${maxBytes}`,
        {
          field,
        },
      );
    }
    const raw = this.take(length, field);
    const text = new TextDecoder("utf-8", { fatal: false }).decode(raw);
    return text;
  }

  rest(): Uint8Array {
    return this.take(this.remaining, "rest");
  }

  /** Fails when bytes are left over: a body longer than its fields is as wrong as a shorter one. */
  end(): void {
    if (this.remaining !== 0) {
      throw new ProtocolError(
        ProtocolErrorCode.TRUNCATED,
        `${this.what}: ${this.remaining} unexpected trailing bytes`,
        {
          trailing: this.remaining,
        },
      );
    }
  }
}

/** Growable big-endian writer. */
export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(initialCapacity = 64) {
    this.buffer = new Uint8Array(initialCapacity);
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buffer[this.length++] = value & 0xff;
    return this;
  }

  u16(value: number): this {
    this.ensure(2);
    this.buffer[this.length++] = (value >>> 8) & 0xff;
    this.buffer[this.length++] = value & 0xff;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    this.buffer[this.length++] = (value >>> 24) & 0xff;
    this.buffer[this.length++] = (value >>> 16) & 0xff;
    this.buffer[this.length++] = (value >>> 8) & 0xff;
    this.buffer[this.length++] = value & 0xff;
    return this;
  }

  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 out of range: ${value}`);
    this.u32(Math.floor(value / 0x1_0000_0000));
    this.u32(value >>> 0);
    return this;
  }

  bytes(value: Uint8Array, expectedLength?: number): this {
    if (expectedLength !== undefined && value.length !== expectedLength) {
      throw new RangeError(`expected ${expectedLength} bytes, got ${value.length}`);
    }
    this.ensure(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  shortString(value: string, maxBytes: number): this {
    const encoded = new TextEncoder().encode(value);
    if (encoded.length > maxBytes) throw new RangeError(`string of ${encoded.length} bytes exceeds ${maxBytes}`);
    this.u8(encoded.length);
    return this.bytes(encoded);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}
