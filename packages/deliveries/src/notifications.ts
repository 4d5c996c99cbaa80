import type { Pool } from '@meterline/db';

export type DeliveryState = 'pending' | 'sent' | 'failed';

/** One email of a resource as the dashboard lists it: to whom, about which alerts, and what became of it. */
export interface NotificationRecord {
  /** The email's id; null for a delivery refused before any email was composed (a bad address). */
  emailId: string | null;
  recipient: string;
  subject: string | null;
  state: DeliveryState;
  alerts: {
    alertId: string;
    metric: string;
    kind: 'THRESHOLD' | 'PACE';
    threshold: number;
    severity: string;
  }[];
  recordedAt: Date;
  sentAt: Date | null;
  attempts: number;
  /** The SMTP server's reason for a failure, or the last retryable error of a pending one. */
  lastError: string | null;
}

/**
 * The usage-alert emails of one resource recorded since `since` (e.g. the start of the billing period),
 * newest first: what the customer's dashboard shows as "emails sent this period". Pass `states` to
 * list, say, only the sent ones. The notice of a refused provision is not among them (a refused
 * resource has no dashboard).
 */
export async function listNotifications(
  pool: Pool,
  resourceId: string,
  since: Date | number,
  opts: { states?: DeliveryState[]; limit?: number } = {},
): Promise<NotificationRecord[]> {
  const { rows } = await pool.query(
    `SELECT d.email_id::text AS email_id, min(d.recipient) AS recipient, min(e.subject) AS subject,
            (array_agg(d.state ORDER BY d.id))[1] AS state,
            json_agg(json_build_object('alertId', d.alert_id, 'metric', a.alert->>'metric', 'kind', a.alert->>'kind',
                     'threshold', (a.alert->>'threshold')::int, 'severity', a.alert->>'severity') ORDER BY d.id) AS alerts,
            min(d.created_at) AS recorded_at, max(d.sent_at) AS sent_at, max(d.attempts) AS attempts,
            max(d.last_error) AS last_error
     FROM deliveries d
     JOIN notifier_alerts a USING (alert_id)
     LEFT JOIN emails e ON e.id = d.email_id
     WHERE d.resource_id = $1 AND d.created_at >= $2 AND ($3::text[] IS NULL OR d.state = ANY($3::text[]))
       AND a.alert->>'kind' IN ('THRESHOLD', 'PACE')
     GROUP BY d.email_id, CASE WHEN d.email_id IS NULL THEN d.id END
     ORDER BY min(d.created_at) DESC, min(d.id) DESC
     LIMIT $4`,
    [resourceId, new Date(since), opts.states ?? null, opts.limit ?? 200],
  );
  return rows.map((r) => ({
    emailId: r.email_id,
    recipient: r.recipient,
    subject: r.subject,
    state: r.state,
    alerts: r.alerts,
    recordedAt: r.recorded_at,
    sentAt: r.sent_at,
    attempts: r.attempts,
    lastError: r.last_error,
  }));
}
