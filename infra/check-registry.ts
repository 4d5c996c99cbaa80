// Smoke check of the local schema registry (Apicurio, Confluent-compatible API) with the client the services
// use (@kafkajs/confluent-schema-registry): register, encode, decode, idempotent re-register, latest id.
// Run: pnpm --filter @meterline/infra exec tsx check-registry.ts
//   (SCHEMA_REGISTRY_URL, default http://127.0.0.1:8081/apis/ccompat/v7)
import assert from 'node:assert/strict';
import confluentSchemaRegistry from '@kafkajs/confluent-schema-registry';

// CommonJS package: take the class from the default export.
const { SchemaRegistry, SchemaType } = confluentSchemaRegistry;

const host = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const registry = new SchemaRegistry({ host });
const run = `${Date.now()}`;
// The contract's subjects are `<topic>-value`; `x-value` plus a run suffix keeps repeated checks apart.
const subject = `x-value-${run}`;
const schema = JSON.stringify({
  type: 'record',
  name: 'InfraCheck',
  namespace: 'meterline.infra',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'quantity', type: 'double' },
    { name: 'source', type: ['null', 'string'], default: null },
  ],
});

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  console.log(`ok  ${name} (${Date.now() - started} ms)`);
  return result;
}

async function registerAndRoundTrip(subjectName: string): Promise<number> {
  const { id } = await step(`register Avro schema under ${subjectName}`, () =>
    registry.register({ type: SchemaType.AVRO, schema }, { subject: subjectName }),
  );
  assert.equal(Number.isInteger(id) && id >= 0, true);
  const value = { id: 'evt-1', quantity: 2.5, source: 'infra-check' };
  const bytes = await step('encode', () => registry.encode(id, value));
  assert.equal(bytes[0], 0, 'magic byte');
  assert.equal(bytes.readInt32BE(1), id, 'schema id in the wire format');
  const decoded = await step('decode', () => registry.decode(bytes));
  assert.deepEqual({ ...decoded }, value);
  return id;
}

const id = await registerAndRoundTrip(subject);
const again = await step('re-register the same schema', () =>
  registry.register({ type: SchemaType.AVRO, schema }, { subject }),
);
assert.equal(again.id, id, 're-registering must return the same id');
const latest = await step('getLatestSchemaId', () => registry.getLatestSchemaId(subject));
assert.equal(latest, id);

// Also the literal subject the brief names; on a long-running registry it may already exist with this schema.
const xValueId = await registerAndRoundTrip('x-value');
console.log(`ids: ${subject}=${id}, x-value=${xValueId}`);
console.log('registry check passed');
