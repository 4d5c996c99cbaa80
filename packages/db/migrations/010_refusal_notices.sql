-- The notifier looks for refused asynchronous provisions it has not told yet (ADR 0003) every round
-- (NOTIFY_POLL_MS): found by this index, not by reading every resource event.
CREATE INDEX resource_events_refused_idx ON resource_events (at) WHERE kind = 'provision_refused';
