import { inTransaction, type Pool, type PoolClient } from '@meterline/db';
import {
  type AddressCheck,
  type AlertForEmail,
  checkAddress,
  type Recipient,
} from '@meterline/notifications';

/** One recipient chosen for an alert; `refused` says why the address may not be used (then the
 * delivery is recorded failed at once and never sent). */
export interface NewDelivery {
  recipient: string;
  name: string | null;
  reason: string;
  refused: string | null;
}

/** The delivery to one chosen recipient (of an alert or a notice), its address lower-cased, and the
 * check of its address and name: a refused one is recorded failed and never sent. */
export function deliveryTo(r: Recipient): [NewDelivery, AddressCheck] {
  const check = checkAddress(r.email, r.name);
  return [
    {
      recipient: r.email.trim().toLowerCase(),
      name: r.name ?? null,
      reason: r.reason,
      refused: check.ok ? null : `refused: ${check.reason}`,
    },
    check,
  ];
}

export interface ReceivedAlert {
  alert: AlertForEmail;
  deliveries: NewDelivery[];
  /** Why there are no deliveries (unknown resource, nobody to tell). */
  note: string | null;
}

export interface RecordOutcome {
  alerts: number;
  redelivered: number;
  pending: number;
  refused: number;
}

/** Inserts one delivery of an alert or notice (pending after `delayMs`, or failed when `refused`); its id,
 * or null when the recipient had one already. */
async function insertDelivery(
  client: PoolClient,
  alertId: string,
  resourceId: string,
  d: NewDelivery,
  delayMs: number,
): Promise<string | null> {
  const { rows } = await client.query(
    `INSERT INTO deliveries (alert_id, resource_id, recipient, recipient_name, reason, state, last_error, failed_at, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 = 'failed' THEN now() END,
             now() + make_interval(secs => $8::double precision / 1000))
     ON CONFLICT (alert_id, recipient) DO NOTHING RETURNING id::text`,
    [
      alertId,
      resourceId,
      d.recipient,
      d.name,
      d.reason,
      d.refused ? 'failed' : 'pending',
      d.refused,
      delayMs,
    ],
  );
  return rows[0]?.id ?? null;
}

/** A delivery waiting for its email to be composed, with its alert. */
export interface ComposableDelivery {
  id: string;
  resourceId: string;
  recipient: string;
  name: string | null;
  alert: AlertForEmail;
}

export interface ComposedEmail {
  resourceId: string;
  recipient: string;
  toHeader: string;
  messageId: string;
  subject: string;
  text: string;
  html: string;
  deliveryIds: string[];
}

export interface StoredEmail {
  id: string;
  resourceId: string;
  recipient: string;
  toHeader: string;
  messageId: string;
  subject: string;
  text: string;
  html: string;
  alertIds: string[];
  /** The most attempts any of its deliveries has had so far. */
  attempts: number;
  /** When the oldest of its deliveries was recorded: the give-up clock. */
  firstRecordedAt: Date;
}

/** One delivery as recorded, with its email's subject and text once composed. */
export interface DeliveryRecord {
  alertId: string;
  recipient: string;
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  lastError: string | null;
  subject: string | null;
  text: string | null;
}

/** A notice that is not a usage alert (a refused provision), as `notifier_alerts` records it. */
export interface Notice {
  id: string;
  resourceId: string;
  body: Record<string, unknown>;
  note: string | null;
}

/** The notifier's tables (ADR 0005): alerts and notices as received (notifier_alerts), one delivery per
 * recipient (deliveries), emails as composed (emails). */
export class DeliveryStore {
  constructor(
    private readonly pool: Pool,
    /** A new delivery waits this long for other tiers of its resource before it is composed. */
    private readonly coalesceMs = 0,
  ) {}

  /** Records alerts and their deliveries in one transaction; an alert already recorded (Kafka
   * redelivery, replay) changes nothing. */
  async record(received: readonly ReceivedAlert[]): Promise<RecordOutcome> {
    const outcome: RecordOutcome = { alerts: 0, redelivered: 0, pending: 0, refused: 0 };
    if (received.length === 0) return outcome;
    await inTransaction(this.pool, async (client) => {
      for (const r of received) {
        const inserted = await client.query(
          `INSERT INTO notifier_alerts (alert_id, resource_id, alert, note) VALUES ($1, $2, $3, $4)
           ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id`,
          [r.alert.id, r.alert.resourceId, JSON.stringify(r.alert), r.note],
        );
        if (inserted.rowCount === 0) {
          outcome.redelivered++;
          continue;
        }
        outcome.alerts++;
        for (const d of r.deliveries) {
          await insertDelivery(client, r.alert.id, r.alert.resourceId, d, this.coalesceMs);
          if (d.refused) outcome.refused++;
          else outcome.pending++;
        }
      }
    });
    return outcome;
  }

  /** Which of these notice (or alert) ids are recorded. */
  async recorded(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const { rows } = await this.pool.query<{ alert_id: string }>(
      'SELECT alert_id FROM notifier_alerts WHERE alert_id = ANY($1::text[])',
      [ids],
    );
    return new Set(rows.map((r) => r.alert_id));
  }

  /** Records a notice with one delivery per recipient, each composed at once (`compose`: nothing to
   * coalesce), in one transaction; null when the notice was recorded before (by another notifier). */
  async recordNotice(
    notice: Notice,
    deliveries: readonly NewDelivery[],
    compose: (d: NewDelivery) => Omit<ComposedEmail, 'deliveryIds'>,
  ): Promise<{ pending: number; refused: number } | null> {
    return inTransaction(this.pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO notifier_alerts (alert_id, resource_id, alert, note) VALUES ($1, $2, $3, $4)
         ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id`,
        [notice.id, notice.resourceId, JSON.stringify(notice.body), notice.note],
      );
      if (inserted.rowCount === 0) return null;
      const counts = { pending: 0, refused: 0 };
      for (const d of deliveries) {
        const id = await insertDelivery(client, notice.id, notice.resourceId, d, 0);
        if (d.refused) counts.refused++;
        else {
          counts.pending++;
          if (id !== null) await this.attachEmail(client, { ...compose(d), deliveryIds: [id] });
        }
      }
      return counts;
    });
  }

  /** Claims, for composition, every uncomposed pending delivery of each (resource, recipient) that
   * has at least one delivery due; the caller composes and attaches them inside `work`. */
  async compose(
    limit: number,
    work: (client: PoolClient, due: ComposableDelivery[]) => Promise<void>,
  ): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `SELECT d.id::text, d.resource_id, d.recipient, d.recipient_name, a.alert
         FROM deliveries d JOIN notifier_alerts a USING (alert_id)
         WHERE d.state = 'pending' AND d.email_id IS NULL
           AND EXISTS (SELECT 1 FROM deliveries x
                       WHERE x.resource_id = d.resource_id AND x.recipient = d.recipient
                         AND x.state = 'pending' AND x.email_id IS NULL AND x.next_attempt_at <= now())
         ORDER BY d.id LIMIT $1
         FOR UPDATE OF d SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return 0;
      await work(
        client,
        rows.map((r) => ({
          id: r.id,
          resourceId: r.resource_id,
          recipient: r.recipient,
          name: r.recipient_name,
          alert: r.alert,
        })),
      );
      return rows.length;
    });
  }

  async attachEmail(client: PoolClient, email: ComposedEmail): Promise<void> {
    const { rows } = await client.query(
      `INSERT INTO emails (resource_id, recipient, to_header, message_id, subject, text_body, html_body)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [
        email.resourceId,
        email.recipient,
        email.toHeader,
        email.messageId,
        email.subject,
        email.text,
        email.html,
      ],
    );
    await client.query(
      'UPDATE deliveries SET email_id = $1, next_attempt_at = now() WHERE id = ANY($2::bigint[])',
      [rows[0].id, email.deliveryIds],
    );
  }

  async failUncomposed(client: PoolClient, deliveryIds: string[], reason: string): Promise<void> {
    await client.query(
      `UPDATE deliveries SET state = 'failed', last_error = $2, failed_at = now() WHERE id = ANY($1::bigint[])`,
      [deliveryIds, reason],
    );
  }

  /** Emails with at least one pending delivery that is due. */
  async dueEmails(limit: number): Promise<string[]> {
    const { rows } = await this.pool.query(
      `SELECT email_id::text AS id FROM deliveries
       WHERE state = 'pending' AND email_id IS NOT NULL AND next_attempt_at <= now()
       GROUP BY email_id ORDER BY min(next_attempt_at) LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id as string);
  }

  /** Holds one email (row lock, skipped by other workers) for the duration of `work`: the send and
   * its outcome commit together, and a crash releases the lock with the deliveries still pending. */
  async withEmail(
    id: string,
    work: (client: PoolClient, email: StoredEmail) => Promise<void>,
  ): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const locked = await client.query('SELECT * FROM emails WHERE id = $1 FOR UPDATE SKIP LOCKED', [id]);
      const e = locked.rows[0];
      if (!e) return false;
      const due = await client.query(
        `SELECT alert_id, attempts, created_at FROM deliveries
         WHERE email_id = $1 AND state = 'pending' AND next_attempt_at <= now() ORDER BY alert_id`,
        [id],
      );
      if (due.rows.length === 0) return false;
      await work(client, {
        id: String(e.id),
        resourceId: e.resource_id,
        recipient: e.recipient,
        toHeader: e.to_header,
        messageId: e.message_id,
        subject: e.subject,
        text: e.text_body,
        html: e.html_body,
        alertIds: due.rows.map((r) => r.alert_id as string),
        attempts: Math.max(...due.rows.map((r) => r.attempts as number)),
        firstRecordedAt: new Date(Math.min(...due.rows.map((r) => (r.created_at as Date).getTime()))),
      });
      return true;
    });
  }

  async markSent(
    client: PoolClient,
    emailId: string,
    smtpMessageId: string,
    smtpResponse: string,
  ): Promise<void> {
    await client.query(
      `UPDATE deliveries SET state = 'sent', attempts = attempts + 1, sent_at = now(), last_error = NULL,
         smtp_message_id = $2, smtp_response = $3
       WHERE email_id = $1 AND state = 'pending'`,
      [emailId, smtpMessageId, smtpResponse],
    );
  }

  async markFailed(
    client: PoolClient,
    emailId: string,
    reason: string,
    smtpResponse: string | null,
  ): Promise<void> {
    await client.query(
      `UPDATE deliveries SET state = 'failed', attempts = attempts + 1, failed_at = now(), last_error = $2, smtp_response = $3
       WHERE email_id = $1 AND state = 'pending'`,
      [emailId, reason, smtpResponse],
    );
  }

  async markRetry(client: PoolClient, emailId: string, error: string, delayMs: number): Promise<void> {
    await client.query(
      `UPDATE deliveries SET attempts = attempts + 1, last_error = $2,
         next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
       WHERE email_id = $1 AND state = 'pending'`,
      [emailId, error, delayMs],
    );
  }

  /** A resource's deliveries, oldest first: to whom, for which alert, and what became of them. */
  async deliveriesOf(resourceId: string): Promise<DeliveryRecord[]> {
    const { rows } = await this.pool.query(
      `SELECT d.alert_id, d.recipient, d.state, d.attempts, d.last_error, e.subject, e.text_body
       FROM deliveries d LEFT JOIN emails e ON e.id = d.email_id WHERE d.resource_id = $1 ORDER BY d.id`,
      [resourceId],
    );
    return rows.map((r) => ({
      alertId: r.alert_id,
      recipient: r.recipient,
      state: r.state,
      attempts: r.attempts,
      lastError: r.last_error,
      subject: r.subject,
      text: r.text_body,
    }));
  }

  /** How many deliveries are in a state, over every resource. */
  async countIn(state: 'pending' | 'sent' | 'failed'): Promise<number> {
    const { rows } = await this.pool.query('SELECT count(*)::int AS n FROM deliveries WHERE state = $1', [
      state,
    ]);
    return rows[0].n as number;
  }
}
