-- Counts the events of several resources from one Kafka partition, atomically: dedupe and increment in
-- one step. Built by counters.ts; every key of the call shares one hash tag (the resources' shard), so it
-- runs unchanged on Redis Cluster.
--
-- KEYS[1] is the shard's generation marker (ADR 0011). Then per resource, its keys (KEYS[base + ...]):
--   +1  applied-offsets hash: "topic:partition" -> highest offset applied; "topic:partition|d" ->
--       offsets (comma-separated) that were producer retries and may not be in the ledger yet
--   +2, +3  dedupe sets (event ids) of the current and the previous dedupe slot: an id is remembered for
--       at least one window after it counted
--   +4 ..   targets (period hashes and window buckets), referenced by index below
-- ARGV[1] r resources, ARGV[2] partition field ("topic:partition"), ARGV[3] applied-hash ttl (s),
-- ARGV[4] expire-at of the current dedupe slot (unix ms), ARGV[5] the ledger's watermark (offsets below
-- it are in the ledger); then per resource:
--   one argument, comma-separated (one argument instead of some twenty: the client builds and sends each
--   argument on its own):
--     key base, n events, t targets, g groups, first offset, last offset;
--     per target: ttl seconds (0 = none);
--     per group (events of one metric and one 5-minute bucket, on one side of the ledger watermark):
--       period target, metric, fine target (0 = none), coarse target (0 = none), events, summed quantity;
--   'd' and three comma-separated lists of n values each, in offset order: offsets, quantities, group
--   numbers (the per-event details, needed only when some event is not simply new), or 'n' without them;
--   'j' and the n event ids joined by newlines, or 'a' and the n ids as arguments (when an id holds a
--   newline; the client encodes arguments one by one, so a joined list costs it far less).
--
-- Returns { -3 } when the generation marker is missing (Redis lost the shard's data: the counters must be
-- rebuilt from the ledger first), { -1, i } when the joined ids of the i-th resource were not n ids
-- (one held a newline; send that resource's ids as arguments), and { -2, i, j, ... } when resources i,
-- j, ... need their per-event details and were sent without them (a redelivery, a producer retry, or
-- the same id twice in the call: send them with details); nothing was written then. Otherwise the
-- generation, then per resource: counted, countedBefore,
-- duplicates, exact, [per group: events then quantity for the ledger (counted now or by an earlier
-- delivery of the same record), when exact is 0], the number of totals, then target/metric/total triples
-- of every period hash the events touched. exact = 1 means every event counted now, so the ledger takes
-- the groups as sent.
local generation = redis.call('GET', KEYS[1])
if not generation then return { -3 } end
local resources = tonumber(ARGV[1])
local field = ARGV[2]
local appliedTtl = tonumber(ARGV[3])
local slotExpireAt = ARGV[4]
local ledgerFrom = tonumber(ARGV[5])
local dupField = field .. '|d'
local CHUNK = 2000 -- Lua's unpack has a small stack

local function split(list)
  local out, i = {}, 0
  for v in string.gmatch(list, '[^,]+') do i = i + 1; out[i] = v end
  return out
end

-- First pass, no writes: read every resource's arguments.
local specs = {}
local a = 6
for r = 1, resources do
  local f = split(ARGV[a])
  a = a + 1
  local s = { base = tonumber(f[1]), n = tonumber(f[2]), t = tonumber(f[3]), g = tonumber(f[4]),
    firstOffset = tonumber(f[5]), lastOffset = f[6] }
  local k = 7
  s.targetTtl = {}
  for i = 1, s.t do s.targetTtl[i] = tonumber(f[k]); k = k + 1 end
  s.period, s.metric, s.fine, s.coarse, s.groupN, s.groupQty = {}, {}, {}, {}, {}, {}
  for i = 1, s.g do
    s.period[i] = tonumber(f[k]); s.metric[i] = f[k + 1]
    s.fine[i] = tonumber(f[k + 2]); s.coarse[i] = tonumber(f[k + 3])
    s.groupN[i] = tonumber(f[k + 4]); s.groupQty[i] = tonumber(f[k + 5])
    k = k + 6
  end
  s.hasDetails = ARGV[a] == 'd'
  if s.hasDetails then
    s.offsetList, s.quantityList, s.groupList = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    a = a + 4
  else
    a = a + 1
  end
  local ids = {}
  if ARGV[a] == 'j' then
    -- n non-empty parts with n - 1 newlines between them means no id held a newline.
    local i, bytes = 0, 0
    for id in string.gmatch(ARGV[a + 1], '[^\n]+') do i = i + 1; ids[i] = id; bytes = bytes + #id end
    if i ~= s.n or bytes + s.n - 1 ~= #ARGV[a + 1] then return { -1, r } end
    a = a + 2
  else
    for i = 1, s.n do ids[i] = ARGV[a + i] end
    a = a + 1 + s.n
  end
  s.ids = ids
  specs[r] = s
end

-- Adds q (> 0) to a counter, a string key or a hash field (field nil for a key), and returns the new total
-- as a string. A whole q adds as an integer (INCRBY, HINCRBY: exact, and cheaper than the float
-- commands, which parse and print a long double and are replicated as a SET); a fraction, or a
-- counter that holds one already (the integer command refuses it), adds as a float (q as Lua prints it:
-- 14 significant digits). A whole q goes as a string of all its digits.
local WHOLE_MAX = 1e15
local function add(key, field, q)
  if q % 1 == 0 and q < WHOLE_MAX then
    local whole = string.format('%d', q)
    local total
    if field then total = redis.pcall('HINCRBY', key, field, whole) else total = redis.pcall('INCRBY', key, whole) end
    if type(total) == 'number' then return string.format('%d', total) end
  end
  if field then return redis.call('HINCRBYFLOAT', key, field, q) end
  return redis.call('INCRBYFLOAT', key, q)
end

local function addIds(key, ids, n)
  local added = 0
  for from = 1, n, CHUNK do
    added = added + redis.call('SADD', key, unpack(ids, from, math.min(n, from + CHUNK - 1)))
  end
  return added
end

-- Second pass, what decides whether an event is simply new: which ids either dedupe slot holds already
-- (native bulk lookups), and which offsets the counters hold (every offset below the ledger's watermark
-- is in them: counted here, or rebuilt from the ledger after Redis lost its data, which is how a lost
-- applied-offsets hash is never a double count). The ids of a resource none of whose events was seen go
-- into the current slot now: how many were added tells whether an id came twice in the call.
local missing = {}
for r = 1, resources do
  local s = specs[r]
  local n, ids = s.n, s.ids
  local KA, KC, KP = KEYS[s.base + 1], KEYS[s.base + 2], KEYS[s.base + 3]
  s.known, s.anyKnown = {}, false
  for _, key in ipairs({ KC, KP }) do
    for from = 1, n, CHUNK do
      local got = redis.call('SMISMEMBER', key, unpack(ids, from, math.min(n, from + CHUNK - 1)))
      for j = 1, #got do
        if got[j] == 1 then s.known[from + j - 1] = true; s.anyKnown = true end
      end
    end
  end
  s.applied = math.max(tonumber(redis.call('HGET', KA, field) or '-1'), ledgerFrom - 1)
  s.simple = s.firstOffset > s.applied and not s.anyKnown
  if s.simple then
    s.added = addIds(KC, ids, n)
    s.simple = s.added == n
  end
  if not s.simple and not s.hasDetails then missing[#missing + 1] = r end
end
if #missing > 0 then
  -- Undo the ids added above (none of them was in the slot before), so that nothing was written.
  for r = 1, resources do
    local s = specs[r]
    if s.added then
      for from = 1, s.n, CHUNK do
        redis.call('SREM', KEYS[s.base + 2], unpack(s.ids, from, math.min(s.n, from + CHUNK - 1)))
      end
    end
  end
  local out = { -2 }
  for _, r in ipairs(missing) do out[#out + 1] = r end
  return out
end

local function count(s)
  local n, g, ids = s.n, s.g, s.ids
  local KA, KC, T = KEYS[s.base + 1], KEYS[s.base + 2], s.base + 3
  local known, applied = s.known, s.applied
  if not s.added then addIds(KC, ids, n) end
  redis.call('PEXPIREAT', KC, slotExpireAt)

  local counted, countedBefore, duplicates = 0, 0, 0
  local exact = 1
  local groupQty, ledgerQty, ledgerN = s.groupQty, s.groupQty, s.groupN
  if not s.simple then
    -- Not simply new: a redelivery, a producer retry, or the same id twice in this call. Per event.
    exact = 0
    local offsets, quantities, eventGroups = split(s.offsetList), split(s.quantityList), split(s.groupList)
    -- Producer retries at offsets the ledger may not hold yet: a redelivery of one of them is not
    -- counted-before. Older ones are dropped.
    local retries, kept = {}, {}
    for v in string.gmatch(redis.call('HGET', KA, dupField) or '', '[^,]+') do
      if tonumber(v) >= ledgerFrom then retries[v] = true; kept[#kept + 1] = v end
    end
    groupQty, ledgerQty, ledgerN = {}, {}, {}
    for i = 1, g do groupQty[i] = 0; ledgerQty[i] = 0; ledgerN[i] = 0 end
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
        groupQty[gi] = groupQty[gi] + q
        ledgerQty[gi] = ledgerQty[gi] + q; ledgerN[gi] = ledgerN[gi] + 1
      end
    end
    if #kept > 0 then redis.call('HSET', KA, dupField, table.concat(kept, ','))
    else redis.call('HDEL', KA, dupField) end
  else
    counted = n
  end

  -- Increments per target. A key's expiry is set when the increment created it (the new total equals
  -- what was added): one EXPIRE per key's life instead of one per call.
  -- touched: per (period target, metric) the quantity to add and, once added, the new total.
  local touched, strAdd = {}, {}
  for i = 1, g do
    local pkey = s.period[i] .. '|' .. s.metric[i]
    local t = touched[pkey]
    if not t then t = { ti = s.period[i], metric = s.metric[i], q = 0 }; touched[pkey] = t end
    local q = groupQty[i]
    if q > 0 then
      t.q = t.q + q
      if s.fine[i] > 0 then strAdd[s.fine[i]] = (strAdd[s.fine[i]] or 0) + q end
      if s.coarse[i] > 0 then strAdd[s.coarse[i]] = (strAdd[s.coarse[i]] or 0) + q end
    end
  end
  for _, t in pairs(touched) do
    if t.q > 0 then
      t.total = add(KEYS[T + t.ti], t.metric, t.q)
      if tonumber(t.total) == t.q and s.targetTtl[t.ti] > 0 then redis.call('EXPIRE', KEYS[T + t.ti], s.targetTtl[t.ti]) end
    end
  end
  for ti, q in pairs(strAdd) do
    local total = add(KEYS[T + ti], nil, q)
    if tonumber(total) == q and s.targetTtl[ti] > 0 then redis.call('EXPIRE', KEYS[T + ti], s.targetTtl[ti]) end
  end
  if tonumber(s.lastOffset) > applied then
    if redis.call('HSET', KA, field, s.lastOffset) == 1 then redis.call('EXPIRE', KA, appliedTtl) end
  end

  local out = { counted, countedBefore, duplicates, exact }
  if exact == 0 then
    for i = 1, g do
      out[#out + 1] = ledgerN[i]
      out[#out + 1] = string.format('%.17g', ledgerQty[i])
    end
  end
  local triples = {}
  for _, t in pairs(touched) do
    triples[#triples + 1] = t.ti
    triples[#triples + 1] = t.metric
    triples[#triples + 1] = t.total or redis.call('HGET', KEYS[T + t.ti], t.metric) or '0'
  end
  out[#out + 1] = #triples / 3
  for _, v in ipairs(triples) do out[#out + 1] = v end
  return out
end

local result = { generation }
for r = 1, resources do
  for _, v in ipairs(count(specs[r])) do result[#result + 1] = v end
end
return result
