export { basicAuthHeader, checkBasicAuth, constantTimeEqual } from './auth.ts';
export {
  type AccessEntry,
  type AccessRole,
  accessListFromPlatform,
  type ConfigVar,
  createPlatformClient,
  type HerokuPlatform,
  type OAuthTokens,
  PLATFORM_ACCEPT,
  type PlatformAddon,
  PlatformApiError,
  type PlatformApp,
  type PlatformClientOptions,
  type PlatformCollaborator,
  type PlatformTeamMember,
  withAccessToken,
} from './platform.ts';
export {
  decideProvision,
  defaultProvisionPolicy,
  type ProvisionDecision,
  type ProvisionFacts,
  type ProvisionHistoryEntry,
  type ProvisionPolicy,
  type ProvisionRefusalCode,
  policyFromEnv,
} from './policy.ts';
export {
  type OAuthGrant,
  type Parsed,
  type PlanChangeRequest,
  type ProvisionRequest,
  parsePlanChangeRequest,
  parseProvisionRequest,
} from './requests.ts';
export {
  type SsoFields,
  type SsoLogin,
  type SsoOptions,
  ssoLoginFields,
  ssoReplayKey,
  ssoResourceToken,
  ssoUserScopedResourceToken,
  verifySsoLogin,
} from './sso.ts';
