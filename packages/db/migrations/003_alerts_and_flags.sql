-- Alerts decided by the evaluator. The row is the outbox: written (idempotently, under the
-- crossing's unique key) before it is published; published_at is set once usage.alerts.v1 has it.
CREATE TABLE alerts (
  id               uuid PRIMARY KEY,
  seq              bigserial NOT NULL,
  resource_id      uuid NOT NULL,
  plan             text NOT NULL,
  metric           text NOT NULL,
  period_key       text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('THRESHOLD', 'PACE')),
  threshold        int NOT NULL,
  severity         text NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
  used             double precision NOT NULL,
  "limit"          double precision NOT NULL,
  percent          double precision NOT NULL,
  projected        double precision,
  expected_daily   double precision,
  period_start     timestamptz NOT NULL,
  period_end       timestamptz NOT NULL,
  occurred_at      timestamptz NOT NULL,
  catalog_version  text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  published_at     timestamptz,
  UNIQUE (resource_id, metric, period_key, kind, threshold)
);
CREATE INDEX alerts_unpublished_idx ON alerts (seq) WHERE published_at IS NULL;
CREATE INDEX alerts_resource_idx ON alerts (resource_id, period_start);

-- The latest downgrade-block flag per resource (also in Redis for the api, and on plan.flags.v1).
CREATE TABLE plan_flags (
  resource_id        uuid PRIMARY KEY,
  downgrade_blocked  boolean NOT NULL,
  blocked_plans      text[] NOT NULL,
  reason             text NOT NULL,
  period_end         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  published_at       timestamptz
);
CREATE INDEX plan_flags_blocked_idx ON plan_flags (period_end) WHERE downgrade_blocked;
