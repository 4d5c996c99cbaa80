/**
 * The Platform API side of provisioning, after Heroku got its answer: exchange the grant, learn the app, its
 * owner and its people, decide an async provision, and keep every access list fresh.
 */
import {
  accessListFromPlatform,
  decideProvision,
  type OAuthTokens,
  PlatformApiError,
  withAccessToken,
} from '@meterline/heroku';
import type { PlatformJob } from '@meterline/resources';
import { findPlan } from '@meterline/rules';
import { backoffMs } from '@meterline/runtime';
import type { ApiDeps } from './deps.ts';
import { configVarsFor, provisionHistory } from './partner.ts';

const MAX_RETRY_DELAY_MS = 5 * 60_000;

export class PlatformWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private lastRefresh = 0;

  constructor(private readonly deps: ApiDeps) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((err: unknown) => this.deps.log.warn({ err }, 'platform worker tick failed'))
        .finally(() => this.schedule(this.deps.config.platformPollMs));
    }, delay);
    this.timer.unref();
  }

  /** Runs every due job, then refreshes stale access lists (at most every quarter of their max age). */
  async tick(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const job = await this.deps.jobs.claim();
      if (!job) break;
      await this.runJob(job);
    }
    const refreshEveryMs = (this.deps.config.accessMaxAgeSeconds * 1000) / 4;
    if (Date.now() - this.lastRefresh >= refreshEveryMs) {
      this.lastRefresh = Date.now();
      await this.refreshStaleAccess();
    }
  }

  async runJob(job: PlatformJob): Promise<void> {
    const { deps } = this;
    const id = job.resourceId;
    try {
      const resource = await deps.resources.get(id);
      if (!resource || resource.state === 'deprovisioned' || resource.state === 'refused') {
        await deps.jobs.done(id);
        return;
      }
      // Tokens saved by an earlier attempt mean the grant was already exchanged: a grant code works
      // once, so exchanging it again would fail a job that can still finish.
      let tokens: OAuthTokens | null = await deps.tokens.load(id);
      if (job.grantSealed && !tokens) {
        tokens = await deps.platform.exchangeGrant(deps.sealer.open(job.grantSealed));
        await deps.tokens.save(id, tokens);
      }
      if (job.grantSealed) await deps.jobs.grantUsed(id);
      if (!tokens) {
        await deps.jobs.giveUp(id, 'no grant code and no tokens: the Platform API cannot be reached for it');
        deps.metrics.platformJobs.inc({ kind: job.kind, outcome: 'failed' });
        return;
      }
      const facts = await this.syncAccess(id, tokens);
      if (job.kind === 'async_provision') await this.decide(id, resource.plan, facts, tokens);
      await deps.jobs.done(id);
      deps.metrics.platformJobs.inc({ kind: job.kind, outcome: 'done' });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Heroku answering 4xx (a spent grant, a revoked add-on) will answer the same next time.
      if (err instanceof PlatformApiError && !err.retryable) {
        await deps.jobs.giveUp(id, message);
        deps.metrics.platformJobs.inc({ kind: job.kind, outcome: 'failed' });
        deps.log.error({ resourceId: id, kind: job.kind, err: message }, 'platform job failed for good');
      } else {
        await deps.jobs.retryLater(id, backoffMs(job.attempts, 1000, MAX_RETRY_DELAY_MS), message);
        deps.metrics.platformJobs.inc({ kind: job.kind, outcome: 'retry' });
        deps.log.warn(
          { resourceId: id, kind: job.kind, attempt: job.attempts, err: message },
          'platform job will retry',
        );
      }
    }
  }

  /** Reads add-on -> app -> collaborators (+ team members) and stores the app facts and the access list. */
  async syncAccess(id: string, tokens: OAuthTokens) {
    const { deps } = this;
    const facts = await withAccessToken(
      deps.platform,
      tokens,
      (fresh) => deps.tokens.save(id, fresh),
      async (token) => {
        const addon = await deps.platform.getAddon(token, id);
        const [app, collaborators] = await Promise.all([
          deps.platform.getApp(token, addon.app.id),
          deps.platform.listCollaborators(token, addon.app.id),
        ]);
        const members = app.team ? await deps.platform.listTeamMembers(token, app.team.id) : [];
        return { app, entries: accessListFromPlatform(app, collaborators, members) };
      },
    );
    await deps.resources.setPlatformFacts(id, {
      appId: facts.app.id,
      appName: facts.app.name,
      ownerId: facts.app.owner.id,
      ownerEmail: facts.app.owner.email,
    });
    await deps.access.replace(id, facts.entries, Date.now());
    return facts;
  }

  private async decide(
    id: string,
    planName: string,
    facts: Awaited<ReturnType<PlatformWorker['syncAccess']>>,
    tokens: OAuthTokens,
  ): Promise<void> {
    const { deps } = this;
    const now = deps.now();
    const plan = findPlan(deps.catalog, planName);
    const history = await provisionHistory(
      deps,
      { appId: facts.app.id, ownerId: facts.app.owner.id },
      id,
      now,
    );
    // The person who asks for a hidden plan is the app's owner: the Partner API does not say which user
    // chose the plan (ADR 0014). Any other owner or admin of the app being a company user is not enough.
    const requester = facts.app.owner.email;
    const mayInstallHidden = plan?.hidden
      ? await deps.team.companyUserMay(requester, 'install_plans')
      : false;
    const decision = decideProvision({
      plan: planName,
      planExists: plan !== undefined,
      planHidden: plan?.hidden ?? false,
      requesterMayInstallHidden: mayInstallHidden,
      region: null, // checked when the request came in
      appId: facts.app.id,
      ownerId: facts.app.owner.id,
      history,
      now,
      policy: deps.config.provisionPolicy,
    });
    const persist = (fresh: OAuthTokens) => deps.tokens.save(id, fresh);
    const current = (await deps.tokens.load(id)) ?? tokens;
    if (decision.allowed) {
      await withAccessToken(deps.platform, current, persist, async (token) => {
        await deps.platform.updateAddonConfig(token, id, configVarsFor(deps, id));
        await deps.platform.markProvisioned(token, id);
      });
      if (await deps.resources.finishProvision(id, { state: 'provisioned' }, now)) {
        // Kept with its installer: removing the company user later leaves it provisioned, listed as orphaned.
        if (plan?.hidden) await deps.team.recordHiddenInstall(id, planName, requester);
        deps.metrics.partner.inc({ outcome: 'provisioned' });
        deps.log.info({ resourceId: id, plan: planName, app: facts.app.name }, 'async provision completed');
      }
      return;
    }
    // Recorded first: whatever Heroku answers next, the refusal and its reason are kept.
    await deps.resources.finishProvision(
      id,
      { state: 'refused', message: decision.message, code: decision.code },
      now,
    );
    deps.metrics.partner.inc({ outcome: 'provision_refused' });
    deps.log.info({ resourceId: id, code: decision.code, app: facts.app.name }, 'async provision refused');
    try {
      await withAccessToken(deps.platform, current, persist, (token) =>
        deps.platform.markDeprovisioned(token, id),
      );
    } catch (err) {
      // ADR 0003: with a 4xx Heroku's 12-hour timeout removes the add-on, uncharged.
      if (err instanceof PlatformApiError && !err.retryable) {
        deps.log.warn(
          { resourceId: id, err: err.message },
          'Heroku refused markDeprovisioned; its timeout will remove it',
        );
        return;
      }
      throw err;
    }
  }

  /** Keeps every live access list younger than ACCESS_MAX_AGE_SECONDS (Heroku: at most 5 minutes stale). */
  async refreshStaleAccess(limit = 25): Promise<number> {
    const { deps } = this;
    const ids = await deps.access.stale(deps.config.accessMaxAgeSeconds, limit);
    for (const id of ids) {
      if (this.stopped) break;
      try {
        const tokens = await deps.tokens.load(id);
        if (tokens) await this.syncAccess(id, tokens);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        await deps.access.recordError(id, message);
        deps.log.warn({ resourceId: id, err: message }, 'access list refresh failed');
      }
    }
    return ids.length;
  }
}
