import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { isUsageEventV1, readUsageEventV1 } from './avro-usage-event.ts';
import type { Checked } from './validate.ts';

interface AvroType {
  fromBuffer(buf: Buffer): unknown;
  schema?(): unknown;
}

/** Reads a whole message (Confluent header included). */
type AvroReader = (message: Buffer) => unknown;

/** The hand-written reader when the writer schema is UsageEvent v1's layout, avsc otherwise. */
function readerFor(type: AvroType): AvroReader {
  if (typeof type.schema === 'function' && isUsageEventV1(type.schema()))
    return (message) => readUsageEventV1(message, 5);
  return (message) => type.fromBuffer(message.subarray(5));
}

/** Decodes a usage event's bytes: the Confluent wire format (magic 0, schema id, Avro) or a UTF-8
 * JSON object. Writer schemas are cached by id; an id the registry does not know is bad input,
 * a registry that does not answer is a retryable failure (thrown). */
export class UsageEventDecoder {
  private readonly readers = new Map<number, AvroReader>();
  private readonly unknownIds = new Map<number, number>();

  constructor(private readonly registry: SchemaRegistry) {}

  /** The synchronous answer when no registry lookup is needed (JSON, or a schema id already known);
   * undefined otherwise. Saves a promise per event on the hot path. */
  decodeKnown(value: Buffer | null): Checked<unknown> | undefined {
    if (value && value.length >= 5 && value[0] === 0) {
      // The hot path: Avro with a writer schema already cached.
      const reader = this.readers.get(value.readInt32BE(1));
      return reader ? decodeAvro(value, reader) : undefined;
    }
    return this.decodeWith(value, () => null) as Checked<unknown>;
  }

  async decode(value: Buffer | null): Promise<Checked<unknown>> {
    return this.decodeKnown(value) ?? (await this.decodeWith(value, (id) => this.reader(id)));
  }

  private decodeWith(
    value: Buffer | null,
    readerOf: (id: number) => AvroReader | null | Promise<AvroReader | null>,
  ): Checked<unknown> | Promise<Checked<unknown>> {
    if (!value || value.length === 0) return { ok: false, reason: 'undecodable', error: 'empty value' };
    const first = value[0];
    if (first === 0) {
      if (value.length < 5)
        return { ok: false, reason: 'undecodable', error: 'Avro message shorter than its 5-byte header' };
      const reader = readerOf(value.readInt32BE(1));
      return reader instanceof Promise ? reader.then((r) => decodeAvro(value, r)) : decodeAvro(value, reader);
    }
    if (first === 0x7b || first === 0x20 || first === 0x0a || first === 0x0d || first === 0x09) {
      try {
        return { ok: true, value: JSON.parse(value.toString('utf8')) };
      } catch (err) {
        return { ok: false, reason: 'undecodable', error: `not valid JSON: ${(err as Error).message}` };
      }
    }
    return {
      ok: false,
      reason: 'undecodable',
      error: `neither Confluent Avro (magic byte 0) nor a JSON object: first byte 0x${first!.toString(16).padStart(2, '0')}`,
    };
  }

  private async reader(id: number): Promise<AvroReader | null> {
    const known = this.readers.get(id);
    if (known) return known;
    const missSince = this.unknownIds.get(id);
    if (missSince !== undefined && Date.now() - missSince < 30_000) return null;
    try {
      const reader = readerFor((await this.registry.getSchema(id)) as unknown as AvroType);
      this.readers.set(id, reader);
      return reader;
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404 || /not found|40403/i.test(String((err as Error).message))) {
        this.unknownIds.set(id, Date.now());
        return null;
      }
      throw err;
    }
  }
}

function decodeAvro(value: Buffer, reader: AvroReader | null): Checked<unknown> {
  const id = value.readInt32BE(1);
  if (!reader)
    return { ok: false, reason: 'unknown-schema', error: `schema id ${id} is not in the registry` };
  try {
    return { ok: true, value: reader(value) };
  } catch (err) {
    return {
      ok: false,
      reason: 'undecodable',
      error: `Avro payload does not match schema ${id}: ${(err as Error).message}`,
    };
  }
}
