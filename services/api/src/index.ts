export { type ApiConfig, type ProvisioningMode, readApiConfig } from './config.ts';
export type { ApiOptions } from './deps.ts';
export { apiMetrics, healthMetrics } from './metrics.ts';
export { type MetricReport, type UsageReport, usageJson, usageReport } from './usage-report.ts';
export { type RunningApi, startApi } from './wire.ts';
