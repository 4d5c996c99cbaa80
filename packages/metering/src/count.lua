-- Counts one resource's events from one Kafka partition, atomically: dedupe and increment in one step.
-- Built by counters.ts; every key shares the resource's hash tag.
--
-- KEYS[1]              applied-offsets hash of the resource (topic:partition -> highest offset applied)
-- KEYS[2], KEYS[3]     dedupe hashes (event id -> "topic:partition:offset") of the current and the previous
--                      dedupe slot: an id is remembered for at least one window after it counted
-- KEYS[4 ..]           targets (period hashes and window buckets), referenced by index below
-- ARGV[1] partition field ("topic:partition"), ARGV[2] applied-hash ttl (s), ARGV[3] expire-at of the
-- current dedupe slot (unix ms), ARGV[4] n events, ARGV[5] t targets, ARGV[6] g groups,
-- then per target: kind ('h' hash / 's' string), ttl seconds (0 = none);
-- then per group (events of one metric and one 5-minute bucket, and on one side of the ledger watermark):
--   period target, metric, fine target (0 = none), coarse target (0 = none);
-- then four blocks of n values each, in offset order: event ids, offsets, quantities, group numbers.
--
-- Returns { counted, countedBefore, duplicates, per group: events then quantity for the ledger
-- (counted now or by an earlier delivery of the same record), then target/metric/total triples of
-- every period hash the events touched }.
local field = ARGV[1]
local appliedTtl = tonumber(ARGV[2])
local slotExpireAt = ARGV[3]
local n = tonumber(ARGV[4])
local t = tonumber(ARGV[5])
local g = tonumber(ARGV[6])
local targetKind, targetTtl = {}, {}
local a = 7
for i = 1, t do
  targetKind[i] = ARGV[a]; targetTtl[i] = tonumber(ARGV[a + 1]); a = a + 2
end
local groupPeriod, groupMetric, groupFine, groupCoarse = {}, {}, {}, {}
for i = 1, g do
  groupPeriod[i] = tonumber(ARGV[a]); groupMetric[i] = ARGV[a + 1]
  groupFine[i] = tonumber(ARGV[a + 2]); groupCoarse[i] = tonumber(ARGV[a + 3])
  a = a + 4
end
local idBase, offsetBase, qtyBase, groupBase = a - 1, a - 1 + n, a - 1 + 2 * n, a - 1 + 3 * n
local T = 3 -- KEYS[T + i] is target i

-- What both dedupe slots know of these ids, fetched in chunks (Lua's unpack has a small stack).
local CHUNK = 2000
local known = {}
for s = 2, 3 do
  for from = 1, n, CHUNK do
    local to = math.min(n, from + CHUNK - 1)
    local got = redis.call('HMGET', KEYS[s], unpack(ARGV, idBase + from, idBase + to))
    for j = 1, #got do
      if got[j] and not known[from + j - 1] then known[from + j - 1] = got[j] end
    end
  end
end

local applied = tonumber(redis.call('HGET', KEYS[1], field) or '-1')
local lastOffset = applied
local counted, countedBefore, duplicates = 0, 0, 0
local groupQty, ledgerQty, ledgerN = {}, {}, {}
for i = 1, g do groupQty[i] = 0; ledgerQty[i] = 0; ledgerN[i] = 0 end
local fresh = {}
local remember = {}
for i = 1, n do
  local offset = tonumber(ARGV[offsetBase + i])
  local id = ARGV[idBase + i]
  local gi = tonumber(ARGV[groupBase + i])
  local seen = known[i]
  if offset <= applied then
    -- A redelivery of a record this resource's counters already include: never count again. The
    -- ledger still needs it if it was this record that counted (or its dedupe entry has expired).
    if not seen or seen == field .. ':' .. ARGV[offsetBase + i] then
      countedBefore = countedBefore + 1
      local q = tonumber(ARGV[qtyBase + i])
      ledgerQty[gi] = ledgerQty[gi] + q; ledgerN[gi] = ledgerN[gi] + 1
    else
      duplicates = duplicates + 1
    end
  elseif seen or fresh[id] then
    -- A producer retry of an id already counted (in an earlier call or earlier in this one).
    duplicates = duplicates + 1
    if offset > lastOffset then lastOffset = offset end
  else
    fresh[id] = true
    counted = counted + 1
    local q = tonumber(ARGV[qtyBase + i])
    groupQty[gi] = groupQty[gi] + q
    ledgerQty[gi] = ledgerQty[gi] + q; ledgerN[gi] = ledgerN[gi] + 1
    remember[#remember + 1] = id
    remember[#remember + 1] = field .. ':' .. ARGV[offsetBase + i]
    if offset > lastOffset then lastOffset = offset end
  end
end

for from = 1, #remember, CHUNK do
  redis.call('HSET', KEYS[2], unpack(remember, from, math.min(#remember, from + CHUNK - 1)))
end
if #remember > 0 then redis.call('PEXPIREAT', KEYS[2], slotExpireAt) end

-- Increments per target. A key's expiry is set when the increment created it (the new total equals
-- what was added): one EXPIRE per key's life instead of one per call.
local hashAdd, strAdd, touched = {}, {}, {}
for i = 1, g do
  local pkey = groupPeriod[i] .. '|' .. groupMetric[i]
  touched[pkey] = true
  local q = groupQty[i]
  if q > 0 then
    hashAdd[pkey] = (hashAdd[pkey] or 0) + q
    if groupFine[i] > 0 then strAdd[groupFine[i]] = (strAdd[groupFine[i]] or 0) + q end
    if groupCoarse[i] > 0 then strAdd[groupCoarse[i]] = (strAdd[groupCoarse[i]] or 0) + q end
  end
end
local totals = {}
for pkey, q in pairs(hashAdd) do
  local sep = string.find(pkey, '|', 1, true)
  local ti = tonumber(string.sub(pkey, 1, sep - 1))
  local total = redis.call('HINCRBYFLOAT', KEYS[T + ti], string.sub(pkey, sep + 1), q)
  totals[pkey] = total
  if tonumber(total) == q and targetTtl[ti] > 0 then redis.call('EXPIRE', KEYS[T + ti], targetTtl[ti]) end
end
for ti, q in pairs(strAdd) do
  local total = redis.call('INCRBYFLOAT', KEYS[T + ti], q)
  if tonumber(total) == q and targetTtl[ti] > 0 then redis.call('EXPIRE', KEYS[T + ti], targetTtl[ti]) end
end
if lastOffset > applied then
  if redis.call('HSET', KEYS[1], field, string.format('%d', lastOffset)) == 1 then
    redis.call('EXPIRE', KEYS[1], appliedTtl)
  end
end

local out = { counted, countedBefore, duplicates }
for i = 1, g do
  out[#out + 1] = ledgerN[i]
  out[#out + 1] = string.format('%.17g', ledgerQty[i])
end
for pkey, _ in pairs(touched) do
  local sep = string.find(pkey, '|', 1, true)
  local ti = tonumber(string.sub(pkey, 1, sep - 1))
  local metric = string.sub(pkey, sep + 1)
  out[#out + 1] = ti
  out[#out + 1] = metric
  out[#out + 1] = totals[pkey] or redis.call('HGET', KEYS[T + ti], metric) or '0'
end
return out
