import { createHash } from 'node:crypto';
import type { Pool } from '@meterline/db';
import { type LedgerHour, ledgerTotals } from '@meterline/metering';
import { seededRandom, seedLedgerHours } from '@meterline/metering/fixtures';
import { backdateResources, seedResources } from '@meterline/resources/fixtures';
import { DAY, HOUR } from '@meterline/rules';

/** The demo's customer base: how many resources per plan, the limits, and the usual share of the month's
 * allowance they use (the plan advisor has distributions to draw from this). */
const PLANS = [
  { plan: 'hobby', count: 60, apiCalls: 10_000, webhooks: 1_000, share: 0.55 },
  { plan: 'basic', count: 45, apiCalls: 100_000, webhooks: 10_000, share: 0.45 },
  { plan: 'pro', count: 15, apiCalls: 1_000_000, webhooks: 100_000, share: 0.3 },
] as const;

/** A stable uuid for a name (version 8 layout), so re-running the demo overwrites the same customers. */
function uuidOf(name: string): string {
  const hex = createHash('sha256').update(`meterline-demo:${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Gives the demo a history for the plan advisor: 120 more customers on the three public plans and the
 * demo's own resources, provisioned two months ago, with hourly API calls and webhooks for the two whole
 * months before this one (weekday-heavy, a daily curve, some customers over their limit), and one hobby
 * customer with a day of abuse. Only past months: this month's usage goes through the pipeline, so the
 * counters and the ledger agree. Written once; a second run finds it and leaves it.
 */
export async function seedDemoHistory(
  db: Pool,
  demoResources: readonly { id: string; plan: string }[],
  now: number,
): Promise<{ customers: number; hours: number; abuser: string }> {
  const d = new Date(now);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 2, 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  // Seeded: the same history on every run.
  const rand = seededRandom(20261207);
  const customers: { id: string; plan: (typeof PLANS)[number]; share: number }[] = [];
  for (const plan of PLANS)
    for (let i = 0; i < plan.count; i++)
      customers.push({
        id: uuidOf(`${plan.plan}-${i}`),
        plan,
        share: plan.share * (0.2 + 1.6 * rand()) ** 1.5,
      });
  const abuser = customers[7]!.id;
  await seedResources(
    db,
    customers.map((c, i) => ({
      id: c.id,
      plan: c.plan.plan,
      name: `meter-${i + 1}`,
      appId: uuidOf(`app-${i}`),
      appName: `demo-app-${i + 1}`,
      ownerId: uuidOf(`owner-${i}`),
      ownerEmail: `customer-${i + 1}@example.test`,
      provisionedAt: new Date(start),
    })),
  );
  await backdateResources(
    db,
    demoResources.map((r) => r.id),
    new Date(start),
  );
  const everyone = [
    ...customers.map((c) => ({ id: c.id, plan: c.plan, share: c.share })),
    ...demoResources.map((r) => ({
      id: r.id,
      plan: PLANS.find((p) => p.plan === r.plan) ?? PLANS[0],
      share: 0.6,
    })),
  ];
  const seeded = await ledgerTotals(db, { start, end, resourceIds: customers.map((c) => c.id) });
  if (seeded.size > 0) return { customers: customers.length, hours: 0, abuser };

  const rows: LedgerHour[] = [];
  for (const r of everyone) {
    for (
      let month = start;
      month < end;
      month = Date.UTC(new Date(month).getUTCFullYear(), new Date(month).getUTCMonth() + 1, 1)
    ) {
      const next = Date.UTC(new Date(month).getUTCFullYear(), new Date(month).getUTCMonth() + 1, 1);
      const hours = (next - month) / HOUR;
      const monthShare = r.share * (0.8 + 0.4 * rand());
      for (let h = 0; h < hours; h++) {
        const hour = month + h * HOUR;
        const date = new Date(hour);
        const weekday = date.getUTCDay() % 6 === 0 ? 0.5 : 1.2;
        const curve = 0.4 + Math.sin((Math.PI * date.getUTCHours()) / 24) ** 2 * 1.2;
        const weight = (weekday * curve * (0.7 + 0.6 * rand())) / hours;
        const calls = Math.round(r.plan.apiCalls * monthShare * weight);
        if (calls > 0) rows.push({ resourceId: r.id, metric: 'api_calls', hour, quantity: calls });
        const hooks = Math.round(r.plan.webhooks * monthShare * 0.8 * weight);
        if (hooks > 0) rows.push({ resourceId: r.id, metric: 'webhooks', hour, quantity: hooks });
      }
    }
  }
  // The abuser: one day last month at fifty times a busy hobby day.
  const abuseDay = end - 12 * DAY;
  for (let h = 0; h < 24; h++)
    rows.push({ resourceId: abuser, metric: 'api_calls', hour: abuseDay + h * HOUR, quantity: 1_000 });
  await seedLedgerHours(db, rows);
  return { customers: customers.length, hours: rows.length, abuser };
}
