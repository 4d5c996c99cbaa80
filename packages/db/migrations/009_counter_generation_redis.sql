-- The Redis server (its INFO run_id) the generation's counters were last checked against (ADR 0011). A
-- different one means Redis restarted or failed over, and may have come back with older data than the
-- ledger holds (a snapshot, a replica promoted before it had every write): the counters are compared
-- with the ledger then, and rebuilt from it if Redis holds less.
ALTER TABLE counter_generations ADD COLUMN redis_run_id text;
