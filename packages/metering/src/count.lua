-- Counts one resource's events from one Kafka partition, atomically: dedupe and increment in one step.
-- KEYS[1]            applied-offsets hash of the resource
-- KEYS[2 .. n+1]     dedupe key of each event
-- KEYS[n+2 ..]       target keys (period hashes and window buckets), referenced by index below
-- ARGV[1] partition field ("topic:partition"), ARGV[2] dedupe ttl (s), ARGV[3] n, ARGV[4] applied ttl (s),
-- ARGV[5] number of targets t, then per target: kind ('h' hash / 's' string), ttl seconds (0 = none),
-- then per event 6 values: offset, quantity, metric, periodTarget, fineTarget (0 = none), coarseTarget (0 = none).
-- Returns { flags, totals... }: flags has one char per event ('1' counted now, '2' counted by an earlier
-- delivery of this record, '0' a producer retry of an id already counted), then metric/total pairs of
-- every period hash touched.
local field = ARGV[1]
local dedupeTtl = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local appliedTtl = tonumber(ARGV[4])
local t = tonumber(ARGV[5])
local targetKind, targetTtl = {}, {}
local a = 6
for i = 1, t do
  targetKind[i] = ARGV[a]; targetTtl[i] = tonumber(ARGV[a + 1]); a = a + 2
end
local applied = tonumber(redis.call('HGET', KEYS[1], field) or '-1')
local flags = {}
local hashAdd, strAdd = {}, {}
local touched = {}
local lastOffset = applied
for i = 1, n do
  local offset = tonumber(ARGV[a]); local qty = tonumber(ARGV[a + 1]); local metric = ARGV[a + 2]
  local pt = tonumber(ARGV[a + 3]); local ft = tonumber(ARGV[a + 4]); local ct = tonumber(ARGV[a + 5])
  a = a + 6
  local position = field .. ':' .. ARGV[a - 6]
  local dkey = KEYS[1 + i]
  local flag
  if offset <= applied then
    -- A redelivery of a record this resource's counters already include: never count again.
    local seen = redis.call('GET', dkey)
    if seen == false or seen == position then flag = '2' else flag = '0' end
  else
    local fresh = redis.call('SET', dkey, position, 'NX', 'EX', dedupeTtl)
    if fresh then
      flag = '1'
      local pkey = pt .. '|' .. metric
      hashAdd[pkey] = (hashAdd[pkey] or 0) + qty
      touched[pt .. '|' .. metric] = true
      if ft > 0 then strAdd[ft] = (strAdd[ft] or 0) + qty end
      if ct > 0 then strAdd[ct] = (strAdd[ct] or 0) + qty end
    else
      flag = '0'
    end
    if offset > lastOffset then lastOffset = offset end
  end
  flags[i] = flag
  touched[pt .. '|' .. metric] = true
end
-- A key's expiry is set when the increment created it (the new total equals what was added): one
-- EXPIRE per key's life instead of one per call.
local totals = {}
for pkey, qty in pairs(hashAdd) do
  local sep = string.find(pkey, '|', 1, true)
  local ti = tonumber(string.sub(pkey, 1, sep - 1))
  local total = redis.call('HINCRBYFLOAT', KEYS[n + 1 + ti], string.sub(pkey, sep + 1), qty)
  totals[pkey] = total
  if tonumber(total) == qty and targetTtl[ti] > 0 then redis.call('EXPIRE', KEYS[n + 1 + ti], targetTtl[ti]) end
end
for ti, qty in pairs(strAdd) do
  local total = redis.call('INCRBYFLOAT', KEYS[n + 1 + ti], qty)
  if tonumber(total) == qty and targetTtl[ti] > 0 then redis.call('EXPIRE', KEYS[n + 1 + ti], targetTtl[ti]) end
end
if lastOffset > applied then
  if redis.call('HSET', KEYS[1], field, lastOffset) == 1 then redis.call('EXPIRE', KEYS[1], appliedTtl) end
end
local out = { table.concat(flags) }
for pkey, _ in pairs(touched) do
  local sep = string.find(pkey, '|', 1, true)
  local ti = tonumber(string.sub(pkey, 1, sep - 1))
  local metric = string.sub(pkey, sep + 1)
  out[#out + 1] = ti
  out[#out + 1] = metric
  out[#out + 1] = totals[pkey] or redis.call('HGET', KEYS[n + 1 + ti], metric) or '0'
end
return out
