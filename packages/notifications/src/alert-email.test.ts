import { describe, expect, it } from 'vitest';
import type { AlertForEmail, EmailContext } from './alert.ts';
import { renderAlertEmail } from './alert-email.ts';
import { coalesce } from './coalesce.ts';

const DAY = 86_400_000;
const NOV = Date.UTC(2026, 10, 1);
const DEC = Date.UTC(2026, 11, 1);

function alert(over: Partial<AlertForEmail> = {}): AlertForEmail {
  const threshold = over.threshold ?? 90;
  const used = over.used ?? threshold * 1000;
  return {
    id: `r1:api_calls:${over.kind ?? 'THRESHOLD'}:${threshold}`,
    resourceId: 'r1',
    plan: 'basic',
    metric: 'api_calls',
    kind: 'THRESHOLD',
    threshold,
    severity: 'WARNING',
    used,
    limit: 100_000,
    percent: (used / 100_000) * 100,
    projected: null,
    periodStart: NOV,
    periodEnd: DEC,
    occurredAt: NOV + 18 * DAY,
    ...over,
  };
}

const ctx: EmailContext = {
  planDisplayName: 'basic',
  metricLabel: 'API calls',
  metricUnit: 'API calls',
  overLimit: 'New API calls are refused with HTTP 429 until the next month.',
  nextPlan: { name: 'pro', displayName: 'Pro', limit: 1_000_000 },
  addonName: 'meterline-shaped-12345',
  appName: 'my-app',
  dashboardUrl: 'https://meterline.example.com/dashboard/r1',
  providerName: 'Meterline',
  now: NOV + 18.5 * DAY,
};

/** The text with its line wrapping undone, for sentences that may wrap anywhere. */
const flat = (text: string) => text.replace(/\s+/g, ' ');

const render = (alerts: AlertForEmail[], c: EmailContext = ctx) =>
  renderAlertEmail(alerts.map((a) => ({ alert: a, ctx: c })));

describe('subject and first line', () => {
  it.each([50, 75, 90, 100, 150])('names the %i%% tier, the plan, the metric and the month', (tier) => {
    const email = render([alert({ threshold: tier, used: tier * 1000 })]);
    expect(email.subject).toBe(`You have used ${tier}% of your basic plan's API calls for November`);
    expect(email.text.split('\n')[0]).toContain(email.subject);
  });

  it('says usage is over the limit for tiers over 100, and reached at 100', () => {
    expect(flat(render([alert({ threshold: 150, used: 150_000, severity: 'CRITICAL' })]).text)).toContain(
      "You have used 150% of your basic plan's API calls for November. Your usage is over the plan's limit by 50,000 API calls.",
    );
    expect(flat(render([alert({ threshold: 100, used: 100_000, severity: 'CRITICAL' })]).text)).toContain(
      "Your usage has reached the plan's limit.",
    );
    expect(render([alert({ threshold: 90 })]).text).not.toContain('over the plan');
  });

  it('tells a pace alert with the share used and the days it took', () => {
    const email = render([
      alert({ kind: 'PACE', threshold: 50, used: 55_000, projected: 341_000, occurredAt: NOV + 4.5 * DAY }),
    ]);
    expect(email.subject).toBe("Your API calls are running ahead of your basic plan's pace for November");
    expect(flat(email.text)).toContain("55% of the month's allowance used in the first 5 days.");
  });

  it('names the month of the period in UTC, not of the moment it is sent', () => {
    const jan = Date.UTC(2027, 0, 1);
    const email = render(
      [alert({ periodStart: jan, periodEnd: Date.UTC(2027, 1, 1), occurredAt: jan + DAY })],
      {
        ...ctx,
        now: jan + DAY,
      },
    );
    expect(email.subject).toMatch(/for January$/);
  });

  it('has a different advice per severity', () => {
    const texts = (['INFO', 'WARNING', 'CRITICAL'] as const).map(
      (severity) => render([alert({ severity })]).text,
    );
    expect(new Set(texts.map((t) => t.split('\n\n')[1])).size).toBe(3);
    expect(render([alert({ severity: 'CRITICAL' })]).html).toContain('Action needed');
  });
});

describe('body', () => {
  const email = render([alert({ threshold: 90, used: 90_300, percent: 90.3, projected: 151_000 })]);

  it('gives used against the limit with separators, the percent and the days left', () => {
    expect(email.text).toContain('90,300 of 100,000 API calls (90.3%)');
    expect(email.text).toMatch(/Days left:\s+12 \(the period ends on 1 December 2026/);
  });

  it('gives the projection when usage runs ahead, and not otherwise', () => {
    expect(flat(email.text)).toContain('about 151,000 API calls by the end of November (151% of the limit)');
    const onPace = render([alert({ projected: 95_000 })]);
    expect(onPace.text).not.toContain('Projected');
    const pace = render([alert({ kind: 'PACE', threshold: 50, used: 55_000, projected: 98_000 })]);
    expect(flat(pace.text)).toContain('about 98,000 API calls by the end of November');
  });

  it('says what happens without an upgrade, and how to upgrade', () => {
    expect(email.text).toContain('If you do not upgrade\n---');
    expect(email.text).toContain('New API calls are refused with HTTP 429 until the next month.');
    expect(flat(email.text)).toContain('The Pro plan includes 1,000,000 API calls a month.');
    expect(email.text).toContain('    heroku addons:upgrade meterline-shaped-12345:pro --app my-app\n');
    expect(email.html).toContain('heroku addons:upgrade meterline-shaped-12345:pro --app my-app');
  });

  it('links the dashboard in text and as an HTML button', () => {
    expect(email.text).toContain('https://meterline.example.com/dashboard/r1');
    expect(email.html).toMatch(/<a href="https:\/\/meterline\.example\.com\/dashboard\/r1" style="[^"]*">/);
  });

  it('leaves --app out when the resource has no app', () => {
    expect(render([alert()], { ...ctx, appName: null }).text).toContain(
      '    heroku addons:upgrade meterline-shaped-12345:pro\n',
    );
  });

  it('says to contact support when there is no higher plan', () => {
    const largest = render([alert()], {
      ...ctx,
      nextPlan: null,
      supportContact: 'support@meterline.example.com',
    });
    expect(flat(largest.text)).toContain(
      'You are already on the largest plan for API calls. To raise your limit, contact Meterline support at support@meterline.example.com.',
    );
    expect(largest.text).not.toContain('heroku addons:upgrade');
  });

  it('gives no command to copy when a name in it is not a plain slug', () => {
    const odd = render([alert()], { ...ctx, appName: 'my-app; rm -rf ~' });
    expect(odd.text).not.toContain('heroku addons:upgrade');
    expect(flat(odd.text)).toContain('Upgrade meterline-shaped-12345 to Pro from your Heroku dashboard.');
  });

  it('keeps text lines within 72 columns, except a URL or command that cannot break', () => {
    const long = render([alert()], {
      ...ctx,
      overLimit:
        'New API calls are refused with HTTP 429 until the next month, and webhooks queued in the meantime are dropped after twenty-four hours without further notice to anyone.',
    });
    const tooLong = long.text
      .split('\n')
      .filter((l) => l.length > 72 && !/^(https?:\/\/\S+|\s{4}heroku \S.*)$/.test(l));
    expect(tooLong).toEqual([]);
  });
});

describe('HTML', () => {
  it('escapes every interpolated value', () => {
    const email = render([alert()], {
      ...ctx,
      planDisplayName: '<script>alert(1)</script>',
      overLimit: 'Calls are <script>refused</script> & "dropped"',
      dashboardUrl: 'https://x.example/?a=1&b="><script>',
    });
    expect(email.html).not.toContain('<script');
    expect(email.html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(email.html).toContain(
      'Calls are &#60;script&#62;refused&#60;/script&#62; &#38; &#34;dropped&#34;',
    );
    expect(email.html).toContain('href="https://x.example/?a=1&#38;b=&#34;&#62;&#60;script&#62;"');
    // The plain text is not HTML: it stays as written.
    expect(email.text).toContain('Calls are <script>refused</script> & "dropped"');
  });

  it('draws the usage bar to the percent used, full when over', () => {
    expect(render([alert({ used: 75_000, threshold: 75 })]).html).toContain('<td width="75%"');
    expect(render([alert({ used: 150_000, threshold: 150 })]).html).toContain('<td width="100%"');
  });

  it('refuses a dashboard link that is not http(s)', () => {
    expect(() => render([alert()], { ...ctx, dashboardUrl: 'javascript:alert(1)' })).toThrow(/http\(s\) URL/);
  });
});

describe('coalesced email', () => {
  const tiers = [
    alert({ threshold: 100, used: 100_500, severity: 'CRITICAL', occurredAt: NOV + 18 * DAY }),
    alert({ threshold: 50, used: 50_100, severity: 'INFO', occurredAt: NOV + 9 * DAY }),
    alert({ threshold: 75, used: 75_200, severity: 'INFO', occurredAt: NOV + 13 * DAY }),
    alert({ threshold: 90, used: 90_000, severity: 'WARNING', occurredAt: NOV + 16 * DAY }),
  ];
  const [group] = coalesce(tiers);
  const email = render(group!);

  it('names the highest tier in the subject', () => {
    expect(email.subject).toBe("You have used 100% of your basic plan's API calls for November");
  });

  it('lists every tier crossed with its numbers, ascending', () => {
    const lines = email.text.split('\n').filter((l) => l.startsWith('  - '));
    expect(lines).toEqual([
      '  - 50% tier: 50,100 of 100,000 API calls used (50.1%, notice)',
      '  - 75% tier: 75,200 of 100,000 API calls used (75.2%, notice)',
      '  - 90% tier: 90,000 of 100,000 API calls used (90%, warning)',
      '  - 100% tier: 100,500 of 100,000 API calls used (100.5%, action needed)',
    ]);
    expect(email.html.match(/<li /g)).toHaveLength(4);
  });

  it('shows the current usage from the latest alert', () => {
    expect(email.text).toContain('100,500 of 100,000 API calls (100.5%)');
  });

  it('gives each metric of the resource its own section and upgrade line', () => {
    const storageCtx: EmailContext = {
      ...ctx,
      metricLabel: 'storage',
      metricUnit: 'GB',
      overLimit: 'New writes are refused until you delete data.',
      nextPlan: { name: 'pro', displayName: 'Pro', limit: 100 },
    };
    const storage = alert({
      metric: 'storage_gb',
      id: 's75',
      threshold: 75,
      used: 7.5,
      limit: 10,
      percent: 75,
    });
    const mixed = renderAlertEmail([
      { alert: alert({ threshold: 90, used: 90_000 }), ctx },
      { alert: storage, ctx: storageCtx },
    ]);
    expect(mixed.subject).toBe("You have used 90% of your basic plan's API calls for November");
    expect(mixed.text).toContain('storage on the basic plan, November 2026');
    expect(mixed.text).toContain('7.5 of 10 GB (75%)');
    expect(mixed.text).toContain('storage: New writes are refused until you delete data.');
    expect(flat(mixed.text)).toContain(
      'The Pro plan includes 1,000,000 API calls and 100 GB of storage a month.',
    );
    expect(mixed.text.match(/heroku addons:upgrade/g)).toHaveLength(1);
  });

  it('refuses alerts of different resources or contexts that disagree on the resource', () => {
    expect(() => render([alert(), alert({ resourceId: 'r2' })])).toThrow(/one resource/);
    expect(() =>
      renderAlertEmail([
        { alert: alert(), ctx },
        { alert: alert({ threshold: 50 }), ctx: { ...ctx, addonName: 'other' } },
      ]),
    ).toThrow(/ctx\.addonName/);
    expect(() => renderAlertEmail([])).toThrow(/at least one/);
  });
});
