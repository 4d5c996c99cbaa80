import { readTopics, type Topics } from '@meterline/kafka';
import {
  DEFAULT_DOWNGRADE_RULE,
  DEFAULT_PACE_GUARDS,
  type DowngradeRule,
  type PaceGuards,
} from '@meterline/rules';
import { configReader } from '@meterline/runtime';

export interface EvaluatorConfig {
  kafkaBrokers: string[];
  registryUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  databaseUrl: string;
  databaseSchema: string | undefined;
  plansFile: string | undefined;
  topics: Topics;
  groupId: string;
  opsPort: number;
  paceGuards: PaceGuards;
  downgradeRule: DowngradeRule;
  /** how often unpublished alerts and flags are retried, and expired flags lifted */
  outboxIntervalMs: number;
}

export function readEvaluatorConfig(env: Record<string, string | undefined> = process.env): EvaluatorConfig {
  const c = configReader(env);
  const config: EvaluatorConfig = {
    kafkaBrokers: c.hostPorts('KAFKA_BROKERS'),
    registryUrl: c.url('SCHEMA_REGISTRY_URL', ['http', 'https']),
    redisUrl: c.url('REDIS_URL', ['redis', 'rediss'], { secret: true }),
    redisKeyPrefix: c.string('REDIS_KEY_PREFIX', { default: 'ml:' }),
    databaseUrl: c.url('DATABASE_URL', ['postgres', 'postgresql'], { secret: true }),
    databaseSchema: c.optionalString('DATABASE_SCHEMA'),
    plansFile: c.string('PLANS_FILE'),
    topics: readTopics(c),
    groupId: `${c.string('CONSUMER_GROUP_PREFIX', { default: 'meterline-' })}evaluator`,
    opsPort: c.int('EVALUATOR_PORT', { default: 9102, min: 0, max: 65535 }),
    paceGuards: {
      minElapsedHours: c.number('PACE_MIN_ELAPSED_HOURS', {
        default: DEFAULT_PACE_GUARDS.minElapsedHours,
        min: 0,
      }),
      minLimit: c.number('PACE_MIN_LIMIT', { default: DEFAULT_PACE_GUARDS.minLimit, min: 0 }),
    },
    downgradeRule: {
      projectionMinElapsedFraction: c.number('DOWNGRADE_PROJECTION_MIN_ELAPSED', {
        default: DEFAULT_DOWNGRADE_RULE.projectionMinElapsedFraction,
        min: 0,
        max: 1,
      }),
      projectionMargin: c.number('DOWNGRADE_PROJECTION_MARGIN', {
        default: DEFAULT_DOWNGRADE_RULE.projectionMargin,
        min: 0,
      }),
    },
    outboxIntervalMs: c.int('OUTBOX_INTERVAL_MS', { default: 2000, min: 50 }),
  };
  c.done();
  return config;
}
