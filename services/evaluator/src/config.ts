import { downgradeRuleEnv } from '@meterline/catalog';
import { type DatabaseSettings, databaseEnv } from '@meterline/db';
import { type KafkaServiceSettings, kafkaEnv } from '@meterline/kafka';
import { type RedisSettings, redisEnv } from '@meterline/redis';
import { DEFAULT_PACE_GUARDS, type DowngradeRule, type PaceGuards } from '@meterline/rules';
import { env, envSchema, readEnv } from '@meterline/runtime';

export interface EvaluatorConfig extends KafkaServiceSettings, DatabaseSettings, RedisSettings {
  plansFile: string | undefined;
  opsPort: number;
  paceGuards: PaceGuards;
  downgradeRule: DowngradeRule;
  /** how often unpublished alerts and flags are retried, and expired flags lifted */
  outboxIntervalMs: number;
}

const evaluatorEnv = envSchema(
  {
    PLANS_FILE: env.string(),
    EVALUATOR_PORT: env.int({ default: 9102, min: 0, max: 65535 }),
    PACE_MIN_ELAPSED_HOURS: env.number({ default: DEFAULT_PACE_GUARDS.minElapsedHours, min: 0 }),
    PACE_MIN_LIMIT: env.number({ default: DEFAULT_PACE_GUARDS.minLimit, min: 0 }),
    OUTBOX_INTERVAL_MS: env.int({ default: 2000, min: 50 }),
  },
  (e) => ({
    plansFile: e.PLANS_FILE,
    opsPort: e.EVALUATOR_PORT,
    paceGuards: { minElapsedHours: e.PACE_MIN_ELAPSED_HOURS, minLimit: e.PACE_MIN_LIMIT },
    outboxIntervalMs: e.OUTBOX_INTERVAL_MS,
  }),
);

export function readEvaluatorConfig(
  source: Record<string, string | undefined> = process.env,
): EvaluatorConfig {
  const c = readEnv(
    {
      kafka: kafkaEnv('evaluator'),
      database: databaseEnv,
      redis: redisEnv,
      evaluator: evaluatorEnv,
      downgradeRule: downgradeRuleEnv,
    },
    source,
  );
  return { ...c.kafka, ...c.database, ...c.redis, ...c.evaluator, downgradeRule: c.downgradeRule };
}
