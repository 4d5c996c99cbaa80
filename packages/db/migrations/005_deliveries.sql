-- The notifier's records (ADR 0005). An alert received from usage.alerts.v1 is kept with the
-- recipients chosen for it: one delivery per (alert, recipient), pending until an email carrying it
-- was accepted by the SMTP server (sent) or refused for good (failed). Kafka offsets are committed
-- once the deliveries are recorded; sending is a separate worker, so an SMTP outage holds up nothing.
CREATE TABLE notifier_alerts (
  alert_id     text PRIMARY KEY,
  resource_id  text NOT NULL,
  alert        jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  -- Why no delivery was recorded (unknown resource, no recipient), when none was.
  note         text
);
CREATE INDEX notifier_alerts_resource_idx ON notifier_alerts (resource_id, received_at);

-- One composed email to one recipient, carrying one or more deliveries (tiers coalesced within the
-- window). Written before the first send attempt so that a resend after a crash is the same message
-- with the same Message-ID.
CREATE TABLE emails (
  id             bigserial PRIMARY KEY,
  resource_id    text NOT NULL,
  recipient      text NOT NULL,
  to_header      text NOT NULL,
  message_id     text NOT NULL UNIQUE,
  subject        text NOT NULL,
  text_body      text NOT NULL,
  html_body      text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
  id               bigserial PRIMARY KEY,
  alert_id         text NOT NULL REFERENCES notifier_alerts (alert_id),
  resource_id      text NOT NULL,
  recipient        text NOT NULL,
  recipient_name   text,
  reason           text NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  email_id         bigint REFERENCES emails (id),
  attempts         int NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  smtp_message_id  text,
  smtp_response    text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  failed_at        timestamptz,
  UNIQUE (alert_id, recipient)
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_email_idx ON deliveries (email_id);
CREATE INDEX deliveries_resource_idx ON deliveries (resource_id, created_at);
