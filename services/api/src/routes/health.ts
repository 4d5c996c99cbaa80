/** The console's pipeline health page (ADR 0018). Company users only, with no particular permission:
 * the figures are the pipeline's (lag, DLQ reasons, delivery counts, Redis memory), no client's data
 * and no secret, and whoever runs the add-on needs them. A partner employee sees only their clients,
 * and these figures are about everyone's traffic, so they are refused. */
import { healthPage } from '../console/health.ts';
import { consolePage } from '../console/render.ts';
import type { ConsolePages } from './console.ts';

/** Seconds between reloads of the page (the Refresh header: no script needed). */
const RELOAD_SECONDS = 30;

export function healthRoutes({ deps, page, view, html }: ConsolePages): void {
  page('/console/health', async (s, _request, reply) => {
    if (!s.viewer.company)
      return html(
        reply,
        403,
        consolePage(
          view(s, { kind: 'error', text: 'Pipeline health is for company users.' }),
          'Not allowed',
          '',
        ),
      );
    const report = await deps.health.read();
    reply.header('refresh', String(RELOAD_SECONDS));
    return html(reply, 200, healthPage(view(s), report));
  });
}
