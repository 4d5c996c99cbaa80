import { createPool, databaseEnv } from '@meterline/db';
import { createKafka, kafkaSecurityEnv } from '@meterline/kafka';
import { CounterStore, recount, UsageLedger } from '@meterline/metering';
import { createRedis, redisEnv } from '@meterline/redis';
import { periodOf } from '@meterline/rules';
import {
  ConfigError,
  createLogger,
  env,
  envSchema,
  parseCommandLine,
  readEnv,
  usageError,
} from '@meterline/runtime';

// `pnpm recount [YYYY-MM] [--force]`: rebuilds the Redis counters of a period (default: the current month)
// from the durable ledger and prints each difference it corrected.
const USAGE = 'usage: pnpm recount [YYYY-MM] [--force]';
const { values, positionals } = parseCommandLine(
  { options: { force: { type: 'boolean', default: false } }, allowPositionals: true },
  USAGE,
);
const [arg, ...extra] = positionals;
if (extra.length > 0) usageError(`recount: one period at most, got ${positionals.length}`, USAGE);
if (arg && !/^\d{4}-(0[1-9]|1[0-2])$/.test(arg))
  usageError(`recount: period must look like 2026-11, got ${arg}`, USAGE);
const recountEnv = envSchema(
  {
    // The ledger's totals do not depend on the consumer; the name only labels watermarks.
    CONSUMER_GROUP_PREFIX: env.string({ default: 'meterline-' }),
    KAFKA_BROKERS: env.optionalString(),
  },
  (e) => ({ group: `${e.CONSUMER_GROUP_PREFIX}ingestor`, brokers: e.KAFKA_BROKERS }),
);
function readConfig() {
  try {
    return readEnv({ database: databaseEnv, redis: redisEnv, recount: recountEnv, kafka: kafkaSecurityEnv });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
const config = readConfig();
const { databaseUrl, databaseSchema: schema } = config.database;
const { redisAddress, redisKeyPrefix: keyPrefix } = config.redis;
const { group, brokers } = config.recount;
// The ingestor writes Redis before the ledger: a recount while it runs could overwrite counts whose
// ledger rows are not committed yet. With KAFKA_BROKERS set, refuse while the group has members.
if (brokers && !values.force) {
  const admin = createKafka(
    { brokers: brokers.split(','), clientId: 'meterline-recount', security: config.kafka },
    createLogger('recount', { level: 'error' }),
  ).admin();
  await admin.connect();
  const { groups } = await admin.describeGroups([group]);
  await admin.disconnect();
  const members = groups[0]?.members.length ?? 0;
  if (members > 0) {
    process.stderr.write(
      `recount: ${members} ingestor(s) of group ${group} are running; stop them first (or pass --force)\n`,
    );
    process.exit(2);
  }
}
const now = Date.now();
const period = arg ? periodOf(Date.parse(`${arg}-01T00:00:00Z`)) : periodOf(now);
const pool = createPool(databaseUrl, { schema });
const redis = createRedis(redisAddress, { keyPrefix });
const counters = new CounterStore(redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
const diffs = await recount(new UsageLedger(pool, group), counters, period, now);
for (const d of diffs) {
  process.stdout.write(
    `corrected ${d.resourceId} ${d.metric} ${d.periodKey}: redis ${d.redis} -> ledger ${d.ledger}\n`,
  );
}
process.stdout.write(`recount ${period.key}: ${diffs.length} counter(s) corrected\n`);
redis.disconnect();
await pool.end();
