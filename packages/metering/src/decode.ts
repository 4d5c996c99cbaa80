import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { UsageEvent } from '@meterline/schemas';
import { isUsageEventV1, readUsageEventV1 } from './avro-usage-event.ts';
import { ExpiringMemo } from './memo.ts';
import { Rejection } from './validate.ts';

interface AvroType {
  fromBuffer(buf: Buffer): unknown;
  schema?(): unknown;
}

/** A schema id the registry said it does not know is not asked about again for this long. */
const UNKNOWN_ID_TTL_MS = 30_000;
const MAX_UNKNOWN_IDS = 10_000;
/** `reader`'s answer when the caller's budget allowed no lookup. */
const NOT_ASKED = Symbol('not asked');
type NotAsked = typeof NOT_ASKED;

/** Reads a whole message (Confluent header included); may write the record into `into`. */
type AvroReader = (message: Buffer, into?: UsageEvent) => unknown;

/** The hand-written reader when the writer schema is UsageEvent v1's layout, avsc otherwise. */
function readerFor(type: AvroType): AvroReader {
  if (typeof type.schema === 'function' && isUsageEventV1(type.schema()))
    return (message, into) => readUsageEventV1(message, 5, into);
  return (message) => type.fromBuffer(message.subarray(5));
}

/** Decodes a usage event's bytes: the Confluent wire format (magic 0, schema id, Avro) or a UTF-8
 * JSON object, into the record's fields (not yet validated) or a `Rejection`. Writer schemas are cached
 * by id; an id the registry does not know is bad input, a registry that does not answer is a retryable
 * failure (thrown). A v1 record is read into `into` when given (the hot path allocates no object per
 * event): the answer is then `into` itself, valid until it is written again. */
export class UsageEventDecoder {
  private readonly readers = new Map<number, AvroReader>();
  /** schema ids the registry said it does not know (ids come from the bytes of bad events: any of 2^32) */
  private readonly unknownIds = new ExpiringMemo<number>(UNKNOWN_ID_TTL_MS, MAX_UNKNOWN_IDS);

  constructor(private readonly registry: SchemaRegistry) {}

  /** The synchronous answer when no registry lookup is needed (JSON, or a schema id already known);
   * undefined otherwise (or null: a JSON null, which `decode` answers the same). Saves a promise per
   * event on the hot path. */
  decodeKnown(value: Buffer | null, into?: UsageEvent): unknown {
    if (value && value.length >= 5 && value[0] === 0) {
      // The hot path: Avro with a writer schema already cached.
      const reader = this.readers.get(value.readInt32BE(1));
      return reader ? decodeAvro(value, reader, into) : undefined;
    }
    return this.decodeWith(value, () => null, into);
  }

  /** `mayAsk` is asked before each registry lookup of a schema id not seen before: false makes the
   * event an `unknown-schema` rejection without one (the caller's budget; see `collectUsageEvents`). */
  async decode(
    value: Buffer | null,
    into?: UsageEvent,
    mayAsk: () => boolean = () => true,
  ): Promise<unknown> {
    return (
      this.decodeKnown(value, into) ?? (await this.decodeWith(value, (id) => this.reader(id, mayAsk), into))
    );
  }

  private decodeWith(
    value: Buffer | null,
    readerOf: (id: number) => AvroReader | NotAsked | null | Promise<AvroReader | NotAsked | null>,
    into: UsageEvent | undefined,
  ): unknown {
    if (!value || value.length === 0) return new Rejection('undecodable', 'empty value');
    const first = value[0];
    if (first === 0) {
      if (value.length < 5)
        return new Rejection('undecodable', 'Avro message shorter than its 5-byte header');
      const reader = readerOf(value.readInt32BE(1));
      return reader instanceof Promise
        ? reader.then((r) => decodeAvro(value, r, into))
        : decodeAvro(value, reader, into);
    }
    if (first === 0x7b || first === 0x20 || first === 0x0a || first === 0x0d || first === 0x09) {
      try {
        return JSON.parse(value.toString('utf8'));
      } catch (err) {
        return new Rejection('undecodable', `not valid JSON: ${(err as Error).message}`);
      }
    }
    return new Rejection(
      'undecodable',
      `neither Confluent Avro (magic byte 0) nor a JSON object: first byte 0x${first!.toString(16).padStart(2, '0')}`,
    );
  }

  private async reader(id: number, mayAsk: () => boolean): Promise<AvroReader | NotAsked | null> {
    const known = this.readers.get(id);
    if (known) return known;
    if (this.unknownIds.has(id, Date.now())) return null;
    if (!mayAsk()) return NOT_ASKED;
    try {
      const reader = readerFor((await this.registry.getSchema(id)) as unknown as AvroType);
      this.readers.set(id, reader);
      return reader;
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404 || /not found|40403/i.test(String((err as Error).message))) {
        this.unknownIds.add(id, Date.now());
        return null;
      }
      throw err;
    }
  }
}

function decodeAvro(
  value: Buffer,
  reader: AvroReader | NotAsked | null,
  into: UsageEvent | undefined,
): unknown {
  if (reader === NOT_ASKED)
    return new Rejection(
      'unknown-schema',
      `schema id ${value.readInt32BE(1)} was not looked up: the batch had asked the registry about too many unknown schema ids`,
    );
  if (!reader)
    return new Rejection('unknown-schema', `schema id ${value.readInt32BE(1)} is not in the registry`);
  try {
    return reader(value, into);
  } catch (err) {
    return new Rejection(
      'undecodable',
      `Avro payload does not match schema ${value.readInt32BE(1)}: ${(err as Error).message}`,
    );
  }
}
