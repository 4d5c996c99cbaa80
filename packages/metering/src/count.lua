-- Counts one resource's events from one Kafka partition, atomically: dedupe and increment in one step.
-- Built by counters.ts; every key shares the resource's hash tag.
--
-- KEYS[1]              applied-offsets hash of the resource: "topic:partition" -> highest offset applied,
--                      "topic:partition|d" -> offsets (comma-separated) that were producer retries and may
--                      not be in the ledger yet
-- KEYS[2], KEYS[3]     dedupe sets (event ids) of the current and the previous dedupe slot: an id is
--                      remembered for at least one window after it counted
-- KEYS[4 ..]           targets (period hashes and window buckets), referenced by index below
-- ARGV[1] partition field ("topic:partition"), ARGV[2] applied-hash ttl (s), ARGV[3] expire-at of the
-- current dedupe slot (unix ms), ARGV[4] n events, ARGV[5] t targets, ARGV[6] g groups, ARGV[7] the
-- ledger's watermark (offsets below it are in the ledger), ARGV[8] the first and ARGV[9] the last offset,
-- then per target: kind ('h' hash / 's' string), ttl seconds (0 = none);
-- then per group (events of one metric and one 5-minute bucket, on one side of the ledger watermark):
--   period target, metric, fine target (0 = none), coarse target (0 = none), events, summed quantity;
-- then three comma-separated lists of n values each, in offset order: offsets, quantities, group numbers
-- (read only when some event is not simply new); then 'j' and the n event ids joined by newlines, or 'a'
-- and the n ids as arguments (when an id holds a newline; the client encodes arguments one by one, so a
-- joined list costs it far less).
--
-- Returns { -1 } when the joined ids were not n (one held a newline): nothing was written, send them
-- as arguments. Otherwise { counted, countedBefore, duplicates, exact, [per group: events then quantity for the ledger
-- (counted now or by an earlier delivery of the same record), when exact is 0], then target/metric/total
-- triples of every period hash the events touched }. exact = 1 means every event counted now, so the
-- ledger takes the groups as sent.
local field = ARGV[1]
local appliedTtl = tonumber(ARGV[2])
local slotExpireAt = ARGV[3]
local n = tonumber(ARGV[4])
local t = tonumber(ARGV[5])
local g = tonumber(ARGV[6])
local ledgerFrom = tonumber(ARGV[7])
local firstOffset, lastOffset = tonumber(ARGV[8]), tonumber(ARGV[9])
local targetKind, targetTtl = {}, {}
local a = 10
for i = 1, t do
  targetKind[i] = ARGV[a]; targetTtl[i] = tonumber(ARGV[a + 1]); a = a + 2
end
local groupPeriod, groupMetric, groupFine, groupCoarse, groupN, groupQty = {}, {}, {}, {}, {}, {}
for i = 1, g do
  groupPeriod[i] = tonumber(ARGV[a]); groupMetric[i] = ARGV[a + 1]
  groupFine[i] = tonumber(ARGV[a + 2]); groupCoarse[i] = tonumber(ARGV[a + 3])
  groupN[i] = tonumber(ARGV[a + 4]); groupQty[i] = tonumber(ARGV[a + 5])
  a = a + 6
end
local offsetList, quantityList, groupList = ARGV[a], ARGV[a + 1], ARGV[a + 2]
local ids = {}
if ARGV[a + 3] == 'j' then
  -- n non-empty parts with n - 1 newlines between them means no id held a newline.
  local i, bytes = 0, 0
  for id in string.gmatch(ARGV[a + 4], '[^\n]+') do i = i + 1; ids[i] = id; bytes = bytes + #id end
  if i ~= n or bytes + n - 1 ~= #ARGV[a + 4] then return { -1 } end
else
  for i = 1, n do ids[i] = ARGV[a + 3 + i] end
end
local T = 3 -- KEYS[T + i] is target i
local CHUNK = 2000 -- Lua's unpack has a small stack

-- Which ids either dedupe slot holds already (native bulk lookups; the loop only scans the answers).
local known = {}
local anyKnown = false
for s = 2, 3 do
  for from = 1, n, CHUNK do
    local to = math.min(n, from + CHUNK - 1)
    local got = redis.call('SMISMEMBER', KEYS[s], unpack(ids, from, to))
    for j = 1, #got do
      if got[j] == 1 then known[from + j - 1] = true; anyKnown = true end
    end
  end
end
local added = 0
for from = 1, n, CHUNK do
  added = added + redis.call('SADD', KEYS[2], unpack(ids, from, math.min(n, from + CHUNK - 1)))
end
redis.call('PEXPIREAT', KEYS[2], slotExpireAt)

local applied = tonumber(redis.call('HGET', KEYS[1], field) or '-1')
local dupField = field .. '|d'
local counted, countedBefore, duplicates = 0, 0, 0
local exact = 1
local ledgerQty, ledgerN = groupQty, groupN
if firstOffset <= applied or anyKnown or added < n then
  -- Not simply new: a redelivery, a producer retry, or the same id twice in this call. Per event.
  exact = 0
  local function split(list)
    local out, i = {}, 0
    for v in string.gmatch(list, '[^,]+') do i = i + 1; out[i] = v end
    return out
  end
  local offsets, quantities, eventGroups = split(offsetList), split(quantityList), split(groupList)
  -- Producer retries at offsets the ledger may not hold yet: a redelivery of one of them is not
  -- counted-before. Older ones are dropped.
  local retries = {}
  local kept = {}
  for v in string.gmatch(redis.call('HGET', KEYS[1], dupField) or '', '[^,]+') do
    if tonumber(v) >= ledgerFrom then retries[v] = true; kept[#kept + 1] = v end
  end
  local countedQty = {}
  ledgerQty, ledgerN = {}, {}
  for i = 1, g do countedQty[i] = 0; ledgerQty[i] = 0; ledgerN[i] = 0 end
  local fresh = {}
  for i = 1, n do
    local offset = tonumber(offsets[i])
    local gi = tonumber(eventGroups[i])
    local id = ids[i]
    if offset <= applied then
      -- A redelivery of a record this resource's counters already include: never count again.
      if retries[offsets[i]] then
        duplicates = duplicates + 1
      else
        countedBefore = countedBefore + 1
        local q = tonumber(quantities[i])
        ledgerQty[gi] = ledgerQty[gi] + q; ledgerN[gi] = ledgerN[gi] + 1
      end
    elseif known[i] or fresh[id] then
      duplicates = duplicates + 1
      if offset >= ledgerFrom then kept[#kept + 1] = offsets[i] end
    else
      fresh[id] = true
      counted = counted + 1
      local q = tonumber(quantities[i])
      countedQty[gi] = countedQty[gi] + q
      ledgerQty[gi] = ledgerQty[gi] + q; ledgerN[gi] = ledgerN[gi] + 1
    end
  end
  if #kept > 0 then redis.call('HSET', KEYS[1], dupField, table.concat(kept, ','))
  else redis.call('HDEL', KEYS[1], dupField) end
  groupQty = countedQty
else
  counted = n
end

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
  if redis.call('HSET', KEYS[1], field, ARGV[9]) == 1 then redis.call('EXPIRE', KEYS[1], appliedTtl) end
end

local out = { counted, countedBefore, duplicates, exact }
if exact == 0 then
  for i = 1, g do
    out[#out + 1] = ledgerN[i]
    out[#out + 1] = string.format('%.17g', ledgerQty[i])
  end
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
