export { Counter, Gauge, Histogram, type Registry } from 'prom-client';
export { parseCommandLine, usageError } from './args.ts';
export { ConfigError, type ConfigProblem, type EnvContext, env, envSchema, readEnv } from './config.ts';
export { backoffMs, sleep } from './errors.ts';
export { createLogger, type Logger } from './log.ts';
export { runService } from './main.ts';
export { serviceNodeArgs } from './node-args.ts';
export {
  createMetricsRegistry,
  handleOpsRequest,
  type Readiness,
  readinessReport,
  startOpsServer,
} from './ops.ts';
export { serialQueue } from './serial.ts';
export { Shutdown } from './shutdown.ts';
