import { readDowngradeRule } from '@meterline/catalog';
import { type DatabaseSettings, readDatabaseSettings } from '@meterline/db';
import { type KafkaServiceSettings, readKafkaSettings } from '@meterline/kafka';
import { type RedisSettings, readRedisSettings } from '@meterline/redis';
import { DEFAULT_PACE_GUARDS, type DowngradeRule, type PaceGuards } from '@meterline/rules';
import { configReader } from '@meterline/runtime';

export interface EvaluatorConfig extends KafkaServiceSettings, DatabaseSettings, RedisSettings {
  plansFile: string | undefined;
  opsPort: number;
  paceGuards: PaceGuards;
  downgradeRule: DowngradeRule;
  /** how often unpublished alerts and flags are retried, and expired flags lifted */
  outboxIntervalMs: number;
}

export function readEvaluatorConfig(env: Record<string, string | undefined> = process.env): EvaluatorConfig {
  const c = configReader(env);
  const config: EvaluatorConfig = {
    ...readKafkaSettings(c, 'evaluator'),
    ...readDatabaseSettings(c),
    ...readRedisSettings(c),
    plansFile: c.string('PLANS_FILE'),
    opsPort: c.int('EVALUATOR_PORT', { default: 9102, min: 0, max: 65535 }),
    paceGuards: {
      minElapsedHours: c.number('PACE_MIN_ELAPSED_HOURS', {
        default: DEFAULT_PACE_GUARDS.minElapsedHours,
        min: 0,
      }),
      minLimit: c.number('PACE_MIN_LIMIT', { default: DEFAULT_PACE_GUARDS.minLimit, min: 0 }),
    },
    downgradeRule: readDowngradeRule(c),
    outboxIntervalMs: c.int('OUTBOX_INTERVAL_MS', { default: 2000, min: 50 }),
  };
  c.done();
  return config;
}
