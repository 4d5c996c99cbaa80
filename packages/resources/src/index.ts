/** The owner of the resource tables: resources and their history (resource_events, provision_answers),
 * the Platform API's tokens (resource_oauth_tokens) and work (platform_jobs), the access lists
 * (resource_access, resource_access_sync) and the provider's contacts (resource_contacts). */
export { type AccessListEntry, type AccessListState, AccessStore } from './access.ts';
export { loadAudiences, type ResourceAudience } from './audience.ts';
export { type PlatformJob, PlatformJobs } from './jobs.ts';
export {
  type Answer,
  type Client,
  type ClientScope,
  type EventKind,
  type PlanHistory,
  type ProvisionRefusal,
  planAt,
  type RefusalCursor,
  type Resource,
  type ResourceEvent,
  type ResourceState,
  ResourceStore,
  recordEvent,
  UUID,
} from './resources.ts';
export { Sealer } from './seal.ts';
export { TokenVault } from './tokens.ts';
