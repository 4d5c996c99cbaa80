-- The generation of the Redis counters a consumer group counts into (ADR 0011). Every Redis shard holds
-- a marker with the generation; a marker that is missing means Redis lost that shard's data. Rebuilding
-- the counters from the ledger bumps the generation, and the ledger refuses a batch counted under an
-- older one (it may have counted into data that the rebuild replaced).
CREATE TABLE counter_generations (
  consumer    text PRIMARY KEY,
  generation  bigint NOT NULL
);
