-- Counts the events of several resources from one Kafka partition, atomically: dedupe and increment in
-- one step. Built by counters.ts; every key of the call shares one hash tag (the resources' shard), so it
-- runs unchanged on Redis Cluster.
--
-- KEYS[1] is the shard's generation marker (ADR 0011). Then per resource one key, KEYS[base + 1]: the
-- resource's counters hash (keys.ts, `counterFields`), whose fields are
--   'u<month><metric>' period totals, 'f<n><metric>' / 'h<n><metric>' 5-minute / hour window buckets
--   (n numbered from the epoch), 'o<topic:partition>' the highest offset applied, 'd<topic:partition>'
--   offsets (comma-separated) that were producer retries and may not be in the ledger yet, and per
--   event id ('i' and a lower-case UUID's 16 bytes, or 't' and any other id) the dedupe slot the id
--   last came in: an id whose slot is the current or the previous one is known, so it is remembered
--   for at least one window after it counted; 'p' the hash's size after its last sweep.
-- ARGV[1] r resources, ARGV[2] partition ("topic:partition"), ARGV[3] the current dedupe slot, ARGV[4]
-- the ledger's watermark (offsets below it are in the ledger); ARGV[5], ARGV[6] the oldest 5-minute and
-- hour bucket numbers a window still needs, ARGV[7] the oldest month kept ('2026-10'): what is older goes
-- in a sweep once the hash has doubled since its last one, so a hash holds at most about twice what
-- the windows need (Redis 7.0 has no per-field expiry). Then per resource:
--   one argument, comma-separated (one argument instead of some twenty: the client builds and sends each
--   argument on its own):
--     key base, n events, t targets, g groups, first offset, last offset, expire-at (unix s) the hash
--     needs at least (its newest month's);
--     per target: its field (a period total or a window bucket);
--     per group (events of one metric and one 5-minute bucket, on one side of the ledger watermark):
--       period target, fine target (0 = none), coarse target (0 = none), events, summed quantity;
--   'd' and three comma-separated lists of n values each, in offset order: offsets, quantities, group
--   numbers (the per-event details, needed only when some event is not simply new), or 'n' without them;
--   the n id fields: 'u' and one argument of n 17-byte fields (every id a lower-case UUID), 'j' and the
--   fields joined by newlines (no id a UUID), or 'a' and one argument each (a mix, or an id that holds a
--   newline; the client encodes arguments one by one, so one argument for all costs it far less).
--
-- Returns { -3 } when the generation marker is missing (Redis lost the shard's data: the counters must be
-- rebuilt from the ledger first), { -1, i } when the joined ids of the i-th resource were not n ids
-- (one held a newline; send that resource's ids as arguments), and { -2, i, j, ... } when resources i,
-- j, ... need their per-event details and were sent without them (a redelivery, a producer retry, or
-- the same id twice in the call: send them with details); nothing was written then. Otherwise the
-- generation, then per resource: counted, countedBefore,
-- duplicates, exact, [per group: events then quantity for the ledger (counted now or by an earlier
-- delivery of the same record), when exact is 0], the number of totals, then target/total pairs of
-- every period total the events touched. exact = 1 means every event counted now, so the ledger takes
-- the groups as sent.
local generation = redis.call('GET', KEYS[1])
if not generation then return { -3 } end
local resources = tonumber(ARGV[1])
local appliedField = 'o' .. ARGV[2]
local dupField = 'd' .. ARGV[2]
local slot = ARGV[3]
local knownFrom = tonumber(slot) - 1
local ledgerFrom = tonumber(ARGV[4])
local fineFrom, coarseFrom, monthFrom = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local CHUNK = 2000 -- Lua's unpack has a small stack

local function split(list)
  local out, i = {}, 0
  for v in string.gmatch(list, '[^,]+') do i = i + 1; out[i] = v end
  return out
end

-- First pass, no writes: read every resource's arguments.
local specs = {}
local a = 8
for r = 1, resources do
  local f = split(ARGV[a])
  a = a + 1
  local s = { base = tonumber(f[1]), n = tonumber(f[2]), t = tonumber(f[3]), g = tonumber(f[4]),
    firstOffset = tonumber(f[5]), lastOffset = f[6], expireAt = tonumber(f[7]) }
  local k = 8
  s.target = {}
  for i = 1, s.t do s.target[i] = f[k]; k = k + 1 end
  s.period, s.fine, s.coarse, s.groupN, s.groupQty = {}, {}, {}, {}, {}
  for i = 1, s.g do
    s.period[i] = tonumber(f[k]); s.fine[i] = tonumber(f[k + 1]); s.coarse[i] = tonumber(f[k + 2])
    s.groupN[i] = tonumber(f[k + 3]); s.groupQty[i] = tonumber(f[k + 4])
    k = k + 5
  end
  s.hasDetails = ARGV[a] == 'd'
  if s.hasDetails then
    s.offsetList, s.quantityList, s.groupList = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    a = a + 4
  else
    a = a + 1
  end
  local ids = {}
  if ARGV[a] == 'u' then
    local fields = ARGV[a + 1]
    if #fields ~= 17 * s.n then return redis.error_reply('meterlineCount: ' .. s.n .. ' ids, ' .. #fields .. ' bytes') end
    for i = 1, s.n do ids[i] = string.sub(fields, 17 * i - 16, 17 * i) end
    a = a + 2
  elseif ARGV[a] == 'j' then
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

-- Adds q (> 0) to a hash field and returns the new total as a string. A whole q adds as an integer
-- (HINCRBY: exact, and cheaper than the float command, which parses and prints a long double and is
-- replicated as an HSET); a fraction, or a counter that holds one already (the integer command refuses
-- it), adds as a float (q as Lua prints it: 14 significant digits). A whole q goes as all its digits.
local WHOLE_MAX = 1e15
local function add(key, field, q)
  if q % 1 == 0 and q < WHOLE_MAX then
    local total = redis.pcall('HINCRBY', key, field, string.format('%d', q))
    if type(total) == 'number' then return string.format('%d', total) end
  end
  return redis.call('HINCRBYFLOAT', key, field, q)
end

-- Sets every id field to the current slot; returns how many fields were new.
local function addIds(key, ids, n)
  local added = 0
  for from = 1, n, CHUNK do
    local args = {}
    for i = from, math.min(n, from + CHUNK - 1) do args[#args + 1] = ids[i]; args[#args + 1] = slot end
    added = added + redis.call('HSET', key, unpack(args))
  end
  return added
end

-- Second pass, what decides whether an event is simply new: which ids the hash knows from this or the
-- previous slot (native bulk lookups), and which offsets the counters hold (every offset below the
-- ledger's watermark is in them: counted here, or rebuilt from the ledger after Redis lost its data,
-- which is how a lost applied offset is never a double count). The ids of a resource none of whose
-- events was seen are set now: how many fields were new tells whether an id came twice in the call (an
-- id from an older slot, forgotten but not yet pruned, is not new either: that resource goes the slow
-- way, which counts it).
local missing = {}
for r = 1, resources do
  local s = specs[r]
  local n, ids = s.n, s.ids
  local K = KEYS[s.base + 1]
  s.known, s.anyKnown = {}, false
  for from = 1, n, CHUNK do
    local got = redis.call('HMGET', K, unpack(ids, from, math.min(n, from + CHUNK - 1)))
    for j = 1, #got do
      if got[j] and tonumber(got[j]) >= knownFrom then s.known[from + j - 1] = true; s.anyKnown = true end
    end
  end
  s.applied = math.max(tonumber(redis.call('HGET', K, appliedField) or '-1'), ledgerFrom - 1)
  s.simple = s.firstOffset > s.applied and not s.anyKnown
  if s.simple then
    s.added = addIds(K, ids, n)
    s.simple = s.added == n
  end
  if not s.simple and not s.hasDetails then missing[#missing + 1] = r end
end
if #missing > 0 then
  -- Undo the ids set above (none of them was known before), so that nothing was written that counts.
  for r = 1, resources do
    local s = specs[r]
    if s.added then
      for from = 1, s.n, CHUNK do
        redis.call('HDEL', KEYS[s.base + 1], unpack(s.ids, from, math.min(s.n, from + CHUNK - 1)))
      end
    end
  end
  local out = { -2 }
  for _, r in ipairs(missing) do out[#out + 1] = r end
  return out
end

-- Drops the fields no window, month or dedupe slot needs any more (see the sweep in count).
local SWEEP_FROM = 32
local function prune(K)
  local all = redis.call('HGETALL', K)
  local doomed = {}
  for i = 1, #all, 2 do
    local f = all[i]
    local kind = string.sub(f, 1, 1)
    local gone = false
    if kind == 'i' or kind == 't' then gone = tonumber(all[i + 1]) < knownFrom
    elseif kind == 'f' then gone = tonumber(string.match(f, '^f(%d+)')) < fineFrom
    elseif kind == 'h' then gone = tonumber(string.match(f, '^h(%d+)')) < coarseFrom
    elseif kind == 'u' then gone = string.sub(f, 2, 8) < monthFrom end
    if gone then doomed[#doomed + 1] = f end
  end
  for from = 1, #doomed, CHUNK do
    redis.call('HDEL', K, unpack(doomed, from, math.min(#doomed, from + CHUNK - 1)))
  end
end

local function count(s)
  local n, g, ids = s.n, s.g, s.ids
  local K = KEYS[s.base + 1]
  local known, applied = s.known, s.applied
  if not s.added then addIds(K, ids, n) end

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
    for v in string.gmatch(redis.call('HGET', K, dupField) or '', '[^,]+') do
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
    if #kept > 0 then redis.call('HSET', K, dupField, table.concat(kept, ','))
    else redis.call('HDEL', K, dupField) end
  else
    counted = n
  end

  -- Increments per target field.
  -- touched: per period target the quantity to add and, once added, the new total.
  local touched, bucketAdd = {}, {}
  for i = 1, g do
    local pt = s.period[i]
    local t = touched[pt]
    if not t then t = { q = 0 }; touched[pt] = t end
    local q = groupQty[i]
    if q > 0 then
      t.q = t.q + q
      if s.fine[i] > 0 then bucketAdd[s.fine[i]] = (bucketAdd[s.fine[i]] or 0) + q end
      if s.coarse[i] > 0 then bucketAdd[s.coarse[i]] = (bucketAdd[s.coarse[i]] or 0) + q end
    end
  end
  for pt, t in pairs(touched) do
    if t.q > 0 then t.total = add(K, s.target[pt], t.q) end
  end
  for ti, q in pairs(bucketAdd) do add(K, s.target[ti], q) end
  if tonumber(s.lastOffset) > applied then redis.call('HSET', K, appliedField, s.lastOffset) end
  -- A sweep once the hash has about doubled since the last one (its size then is kept in field 'p'):
  -- constant work per field on average, and each resource sweeps when its own growth says so, not
  -- every resource at once after each 5-minute boundary. A hash of fewer than SWEEP_FROM fields is
  -- never swept.
  local size = redis.call('HLEN', K)
  if size >= 2 * tonumber(redis.call('HGET', K, 'p') or '0') + SWEEP_FROM then
    prune(K)
    redis.call('HSET', K, 'p', redis.call('HLEN', K) + 1)
  end
  -- The hash lives as long as its newest month needs (never shortened: a late event of an older month).
  if redis.call('EXPIRETIME', K) < s.expireAt then redis.call('EXPIREAT', K, s.expireAt) end

  local out = { counted, countedBefore, duplicates, exact }
  if exact == 0 then
    for i = 1, g do
      out[#out + 1] = ledgerN[i]
      out[#out + 1] = string.format('%.17g', ledgerQty[i])
    end
  end
  local pairsOut = {}
  for pt, t in pairs(touched) do
    pairsOut[#pairsOut + 1] = pt
    pairsOut[#pairsOut + 1] = t.total or redis.call('HGET', K, s.target[pt]) or '0'
  end
  out[#out + 1] = #pairsOut / 2
  for _, v in ipairs(pairsOut) do out[#out + 1] = v end
  return out
end

local result = { generation }
for r = 1, resources do
  for _, v in ipairs(count(specs[r])) do result[#result + 1] = v end
end
return result
