import { randomUUID } from 'node:crypto';
import type { Pool } from '@meterline/db';
import type { AlertForEmail } from '@meterline/notifications';

/** An alert email recorded as sent, as the notifier would have left it: for tests of what reads the
 * deliveries (the dashboard) without running a notifier. */
export async function seedSentEmail(
  pool: Pool,
  e: {
    alertId: string;
    resourceId: string;
    alert: Pick<AlertForEmail, 'metric' | 'kind' | 'threshold' | 'severity'>;
    recipient: string;
    subject: string;
    sentAt: Date;
  },
): Promise<void> {
  await pool.query(
    'INSERT INTO notifier_alerts (alert_id, resource_id, alert) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [e.alertId, e.resourceId, JSON.stringify(e.alert)],
  );
  const email = await pool.query(
    `INSERT INTO emails (resource_id, recipient, to_header, message_id, subject, text_body, html_body)
     VALUES ($1, $2, $2, $3, $4, 't', 'h') RETURNING id`,
    [e.resourceId, e.recipient, `<${randomUUID()}@meterline>`, e.subject],
  );
  await pool.query(
    `INSERT INTO deliveries (alert_id, resource_id, recipient, reason, state, email_id, created_at, sent_at)
     VALUES ($1, $2, $3, 'access-list', 'sent', $4, $5, $5)`,
    [e.alertId, e.resourceId, e.recipient, email.rows[0].id, e.sentAt],
  );
}
