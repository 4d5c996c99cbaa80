import { downgradeRuleEnv, paceGuardsEnv } from '@meterline/catalog';
import { type DatabaseSettings, databaseEnv } from '@meterline/db';
import { type KafkaServiceSettings, kafkaEnv } from '@meterline/kafka';
import { type RedisSettings, redisEnv } from '@meterline/redis';
import type { DowngradeRule, PaceGuards } from '@meterline/rules';
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
    OUTBOX_INTERVAL_MS: env.int({ default: 2000, min: 50 }),
  },
  (e) => ({
    plansFile: e.PLANS_FILE,
    opsPort: e.EVALUATOR_PORT,
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
      paceGuards: paceGuardsEnv,
    },
    source,
  );
  return {
    ...c.kafka,
    ...c.database,
    ...c.redis,
    ...c.evaluator,
    downgradeRule: c.downgradeRule,
    paceGuards: c.paceGuards,
  };
}
