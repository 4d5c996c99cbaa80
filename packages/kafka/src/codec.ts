import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { avroSchema, type ContractName } from '@meterline/schemas';

/** Encodes one contract (UsageEvent, UsageAlert, PlanFlag) in the Confluent wire format under its
 * subject, registering the schema on first use. */
export class ContractCodec<T> {
  private id: Promise<number> | null = null;

  constructor(
    private readonly registry: SchemaRegistry,
    readonly subject: string,
    private readonly contract: ContractName,
  ) {}

  /** Registers once, however many first encodes run at the same time; a failure is retried next call. */
  schemaId(): Promise<number> {
    this.id ??= this.registry
      .register(
        { type: 'AVRO' as never, schema: JSON.stringify(avroSchema(this.contract)) },
        { subject: this.subject },
      )
      .then(
        ({ id }) => id,
        (err: unknown) => {
          this.id = null;
          throw err;
        },
      );
    return this.id;
  }

  async encode(value: T): Promise<Buffer> {
    return this.registry.encode(await this.schemaId(), value);
  }

  async decode(buffer: Buffer): Promise<T> {
    return (await this.registry.decode(buffer)) as T;
  }
}

export const subjectFor = (topic: string) => `${topic}-value`;
