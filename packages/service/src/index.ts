/** The skeleton every service starts from: Postgres (migrated), the plan catalog, Redis, Kafka, the
 * ops server with readiness, and the shutdown order's common tail. Each service's wire.ts adds only
 * what is its own. */
export { type RunningService, type ServiceBase, type ServiceParts, startServiceBase } from './base.ts';
