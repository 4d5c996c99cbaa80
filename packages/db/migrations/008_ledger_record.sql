-- One batch's ledger step in one round trip (it took seven): the generation check (ADR 0011), the
-- partition's watermark check and move, and the rows, atomically. Answers 'ok', or why it refused:
-- 'generation' (with the current generation) or 'watermark' (with the current watermark); nothing is
-- written then. Rows are locked in the order given (the caller sorts them).
CREATE FUNCTION ledger_record(
  p_consumer text, p_topic text, p_partition int, p_from bigint, p_next bigint, p_generation bigint,
  p_resources uuid[], p_metrics text[], p_hours timestamptz[], p_quantities float8[], p_events bigint[]
) RETURNS TABLE (status text, current_value bigint) LANGUAGE plpgsql AS $$
DECLARE
  g bigint;
  w bigint;
BEGIN
  IF p_generation IS NOT NULL THEN
    -- Shared: batches record side by side; a rebuild (exclusive) waits for them and they for it.
    SELECT c.generation INTO g FROM counter_generations c WHERE c.consumer = p_consumer FOR SHARE;
    IF coalesce(g, 0) <> p_generation THEN
      RETURN QUERY SELECT 'generation'::text, coalesce(g, 0);
      RETURN;
    END IF;
  END IF;
  INSERT INTO ledger_watermarks (consumer, topic, partition, next_offset)
    VALUES (p_consumer, p_topic, p_partition, 0) ON CONFLICT DO NOTHING;
  SELECT l.next_offset INTO w FROM ledger_watermarks l
    WHERE l.consumer = p_consumer AND l.topic = p_topic AND l.partition = p_partition FOR UPDATE;
  IF w <> p_from THEN
    RETURN QUERY SELECT 'watermark'::text, w;
    RETURN;
  END IF;
  IF cardinality(p_resources) > 0 THEN
    INSERT INTO usage_ledger (resource_id, metric, hour, quantity, events)
      SELECT * FROM unnest(p_resources, p_metrics, p_hours, p_quantities, p_events)
      ON CONFLICT (resource_id, metric, hour) DO UPDATE
        SET quantity = usage_ledger.quantity + excluded.quantity, events = usage_ledger.events + excluded.events;
  END IF;
  IF p_next > w THEN
    UPDATE ledger_watermarks SET next_offset = p_next
      WHERE consumer = p_consumer AND topic = p_topic AND partition = p_partition;
  END IF;
  RETURN QUERY SELECT 'ok'::text, NULL::bigint;
END
$$;
