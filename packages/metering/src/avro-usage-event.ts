/** A reader for the one writer schema every producer uses today: UsageEvent v1 exactly as
 * `schemas/usage-event.avsc` lays it out. It reads the fields straight off the buffer, with the same
 * errors avsc gives (truncated buffer, trailing data), without a Buffer slice per event, and with one
 * shared string per metric name: it runs once per event, and avsc's generic reader costs more there
 * (ADR 0015). Any other writer schema (a later version, another field order) goes through avsc. */

import type { UsageEvent } from '@meterline/schemas';

interface FieldSchema {
  name: string;
  type: unknown;
}

const V1_LAYOUT: [string, string][] = [
  ['id', '"string"'],
  ['resourceId', '"string"'],
  ['metric', '"string"'],
  ['quantity', '"double"'],
  ['timestamp', '{"type":"long","logicalType":"timestamp-millis"}'],
  ['source', '["null","string"]'],
];

/** Whether a writer schema (its JSON) is UsageEvent v1's layout, field for field (docs and defaults aside). */
export function isUsageEventV1(schema: unknown): boolean {
  const s = schema as { type?: unknown; fields?: FieldSchema[] };
  if (s?.type !== 'record' || !Array.isArray(s.fields) || s.fields.length !== V1_LAYOUT.length) return false;
  return s.fields.every((f, i) => {
    const [name, type] = V1_LAYOUT[i]!;
    const c = canonical(f.type);
    // A registry client that does not know the logical type reports the plain long it is made of.
    return f.name === name && (c === type || (name === 'timestamp' && c === '"long"'));
  });
}

function canonical(type: unknown): string {
  if (typeof type === 'string') return JSON.stringify(type);
  if (Array.isArray(type)) return `[${type.map(canonical).join(',')}]`;
  const t = type as { type?: unknown; logicalType?: unknown };
  if (t && typeof t === 'object' && typeof t.type === 'string' && Object.keys(t).length <= 3) {
    if (t.logicalType === undefined) return JSON.stringify(t.type);
    return JSON.stringify({ type: t.type, logicalType: t.logicalType });
  }
  return JSON.stringify(type);
}

/** Decodes the Avro body (after the 5-byte Confluent header) of a UsageEvent v1. Throws on bad bytes.
 * Writes the fields into `into` when given (the ingestor reads every event of a batch into one object,
 * so decoding allocates nothing but the strings) and returns it. */
export function readUsageEventV1(buf: Buffer, start: number, into?: UsageEvent): UsageEvent {
  const r = new Reader(buf, start);
  const id = r.string();
  const resourceId = r.string();
  const metric = r.metric();
  const quantity = r.double();
  const timestamp = r.long();
  const branch = r.long();
  let source: string | null = null;
  if (branch === 1) source = r.string();
  else if (branch !== 0) throw new Error(`invalid union index: ${branch}`);
  if (r.pos < buf.length) throw new Error('trailing data');
  if (!into) return { id, resourceId, metric, quantity, timestamp, source };
  into.id = id;
  into.resourceId = resourceId;
  into.metric = metric;
  into.quantity = quantity;
  into.timestamp = timestamp;
  into.source = source;
  return into;
}

class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
  ) {}

  /** A zig-zag varint long, exact up to 2^53. */
  long(): number {
    const buf = this.buf;
    let pos = this.pos;
    let b = 0;
    let n = 0;
    let k = 0;
    // 28 bits in integer arithmetic, the rest (rare: timestamps need 41 bits) in floating point.
    do {
      if (pos >= buf.length) throw new Error('truncated buffer');
      b = buf[pos++]!;
      n |= (b & 0x7f) << k;
      k += 7;
    } while (b & 0x80 && k < 28);
    let value = n >>> 0;
    if (b & 0x80) {
      let f = 268435456; // 2^28
      do {
        if (pos >= buf.length) throw new Error('truncated buffer');
        b = buf[pos++]!;
        value += (b & 0x7f) * f;
        f *= 128;
        if (f > 2 ** 70) throw new Error('long too long');
      } while (b & 0x80);
    }
    this.pos = pos;
    // zig-zag: even -> value/2, odd -> -(value+1)/2
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  /** The bytes of a length-prefixed string: where they start; `pos` is then past them. */
  private bytes(): number {
    const len = this.long();
    const start = this.pos;
    if (len < 0 || start + len > this.buf.length) throw new Error('truncated buffer');
    this.pos = start + len;
    return start;
  }

  string(): string {
    const start = this.bytes();
    return utf8(this.buf, start, this.pos);
  }

  /** A metric name: one of a handful, so the string of equal bytes seen before is reused (events of a
   * batch wait for Redis holding their metric; one shared string instead of one each). */
  metric(): string {
    const start = this.bytes();
    const len = this.pos - start;
    for (const known of recentMetrics) {
      const b = known.bytes;
      if (b.length !== len) continue;
      let i = 0;
      while (i < len && b[i] === this.buf[start + i]) i++;
      if (i === len) return known.value;
    }
    const value = utf8(this.buf, start, this.pos);
    if (len <= 64) {
      if (recentMetrics.length >= 16) recentMetrics.pop();
      recentMetrics.unshift({ bytes: Buffer.from(this.buf.subarray(start, this.pos)), value });
    }
    return value;
  }

  double(): number {
    if (this.pos + 8 > this.buf.length) throw new Error('truncated buffer');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
}

// Buffer#utf8Slice: what toString('utf8', start, end) calls after checking its arguments (checked here).
const utf8 = (buf: Buffer, start: number, end: number): string =>
  (buf as unknown as { utf8Slice(start: number, end: number): string }).utf8Slice(start, end);

const recentMetrics: { bytes: Buffer; value: string }[] = [];
