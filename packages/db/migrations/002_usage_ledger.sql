-- The durable usage ledger: enough to rebuild every Redis counter. One row per resource, metric and
-- hour (UTC), written idempotently: a batch only applies offsets above the partition's watermark,
-- in the same transaction that moves the watermark.
CREATE TABLE usage_ledger (
  resource_id  uuid NOT NULL,
  metric       text NOT NULL,
  hour         timestamptz NOT NULL,
  quantity     double precision NOT NULL,
  events       bigint NOT NULL,
  PRIMARY KEY (resource_id, metric, hour)
);
CREATE INDEX usage_ledger_hour_idx ON usage_ledger (hour);

CREATE TABLE ledger_watermarks (
  consumer     text NOT NULL,
  topic        text NOT NULL,
  partition    int NOT NULL,
  next_offset  bigint NOT NULL,
  PRIMARY KEY (consumer, topic, partition)
);
