-- The rules of slots.py, line for line, as one Redis script: one `step` a call.
-- KEYS[1]: the book, as JSON. ARGV[1]: "" (Redis's own clock) or a time in ms
-- (tests only); ARGV[2]: the ask as JSON {owner, want, more, caps, lease, answers,
-- history, leave}. Returns {wait, token...}. Every time is whole ms, which
-- cjson keeps exact (13 digits), so these grants equal the Python book's.
if redis.replicate_commands then redis.replicate_commands() end -- Redis 3.2-4: TIME, then writes

local GRAINS, WANT_TTL, OWNER_TTL, HISTORY = 200, 2000, 10000, ''

local function clock()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.pcall('TIME')
  if t.err then error({err = 'TIME refused in scripts: ' .. t.err}) end
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local now = clock()
local ask = cjson.decode(ARGV[2])
local raw = redis.call('GET', KEYS[1])
local book = raw and cjson.decode(raw) or {held = {}, done = {}, owners = {}, seq = 0}

local function ceil_div(a, b) return math.floor((a + b - 1) / b) end

local function total(entries)
  local n = 0
  for _, e in ipairs(entries) do n = n + e[3] end
  return n
end

local function answered(when, owner)
  local grain = nil
  for _, e in pairs(book.owners) do grain = math.min(grain or e[5], e[5]) end
  grain = grain or 1
  when = ceil_div(when, grain) * grain
  local i = #book.done
  while i > 0 and book.done[i][1] > when do i = i - 1 end
  local j = i
  while j > 0 and book.done[j][1] == when do
    if book.done[j][2] == owner then
      book.done[j][3] = book.done[j][3] + 1
      return
    end
    j = j - 1
  end
  table.insert(book.done, i + 1, {when, owner, 1})
end

local function by_time_then_owner(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end

local function preload(ages)
  local theirs, ours, merged = {}, {}, {}
  for _, a in ipairs(ages) do
    if a >= 0 then table.insert(theirs, now - a) end
  end
  table.sort(theirs, function(a, b) return a > b end)
  for k = #book.done, 1, -1 do
    local e = book.done[k]
    for _ = 1, e[3] do table.insert(ours, {e[1], e[2]}) end
  end
  for r, t in ipairs(theirs) do
    if r <= #ours and ours[r][1] >= t then table.insert(merged, ours[r])
    else table.insert(merged, {t, HISTORY}) end
  end
  for r = #theirs + 1, #ours do table.insert(merged, ours[r]) end
  table.sort(merged, by_time_then_owner)
  book.done = {}
  for _, m in ipairs(merged) do answered(m[1], m[2]) end
end

local function settle()
  local keep_count, keep_span, grain = 0, 0, 1
  for o, e in pairs(book.owners) do
    if e[1] < now then book.owners[o] = nil
    else
      e[1], e[2] = math.min(e[1], now + OWNER_TTL), math.min(e[2], now + WANT_TTL)
      keep_count, keep_span = math.max(keep_count, e[3]), math.max(keep_span, e[4])
      grain = math.max(grain, e[5])
    end
  end
  local gone = {}
  for token, e in pairs(book.held) do
    if e[3] < now or book.owners[e[1]] == nil then
      book.held[token] = nil
      table.insert(gone, {math.min(e[3], now + 1), e[1]})
    end
  end
  table.sort(gone, by_time_then_owner)
  for _, l in ipairs(gone) do answered(l[1], l[2]) end
  local kept = {}
  for _, e in ipairs(book.done) do
    if e[1] > now - keep_span then table.insert(kept, {math.min(e[1], now + grain), e[2], e[3]}) end
  end
  local extra = total(kept) - keep_count
  while extra > 0 do
    local drop = math.min(extra, kept[1][3])
    extra, kept[1][3] = extra - drop, kept[1][3] - drop
    if kept[1][3] == 0 then table.remove(kept, 1) end
  end
  book.done = kept
end

local function take()
  local others, held_all, held_mine = 0, 0, 0
  for o, e in pairs(book.owners) do
    if o ~= ask.owner and e[2] > now then others = others + 1 end
  end
  for _, e in pairs(book.held) do
    held_all = held_all + 1
    if e[1] == ask.owner then held_mine = held_mine + 1 end
  end
  local limits = {}
  for _, cap in ipairs(ask.caps) do
    local count, span, recent, own = cap[1], cap[2], {}, {}
    for _, e in ipairs(book.done) do
      if e[1] > now - span then
        table.insert(recent, e)
        if e[2] == ask.owner then table.insert(own, e) end
      end
    end
    table.insert(limits, {count - total(recent) - held_all, recent, span})
    if others > 0 then
      table.insert(limits, {ceil_div(count, others + 1) - total(own) - held_mine, own, span})
    end
  end
  local grant = ask.want
  for _, l in ipairs(limits) do grant = math.min(grant, l[1]) end
  grant = math.max(0, grant)
  if others == 0 then
    local spare = ask.want + ask.more
    for k, l in ipairs(limits) do spare = math.min(spare, l[1] - math.floor(ask.caps[k][1] / 2)) end
    for _, cap in ipairs(ask.caps) do if cap[1] <= GRAINS then spare = 0 end end  -- tight: none
    grant = math.max(grant, spare)
  end
  local reply = {0}
  for _ = 1, grant do
    book.seq = book.seq + 1
    local token = ask.owner .. '#' .. string.format('%d', book.seq)
    book.held[token] = {ask.owner, now, now + ask.lease}
    table.insert(reply, token)
  end
  if grant >= ask.want then
    if ask.want == 0 then book.owners[ask.owner][2] = 0 end
    return reply
  end
  book.owners[ask.owner][2] = now + WANT_TTL
  for _, l in ipairs(limits) do
    if l[1] <= grant then
      local wait = l[3]
      if #l[2] > 0 then wait = math.max(0, l[2][1][1] + l[3] - now) end
      reply[1] = math.max(reply[1], wait)
    end
  end
  return reply
end

local mine = book.owners[ask.owner] or {0, 0}
local max_count, max_span, min_span = 0, 0, nil
for _, cap in ipairs(ask.caps) do
  max_count, max_span = math.max(max_count, cap[1]), math.max(max_span, cap[2])
  min_span = math.min(min_span or cap[2], cap[2])
end
local grain = 1
if max_count > GRAINS then grain = math.max(1, math.floor(min_span / GRAINS)) end
book.owners[ask.owner] = {now + OWNER_TTL, mine[2], max_count, max_span, grain}
if #ask.history > 0 then preload(ask.history) end
for _, a in ipairs(ask.answers) do
  local e = book.held[a[1]]
  if e then
    book.held[a[1]] = nil
    if a[3] then answered(math.max(now + 1 - a[2], e[2]), e[1]) end
  end
end
settle()
local reply = {0}
if ask.leave then book.owners[ask.owner] = nil else reply = take() end
local ttl = ask.lease + OWNER_TTL + 60000
for _, e in pairs(book.owners) do ttl = math.max(ttl, e[4] + ask.lease + OWNER_TTL + 60000) end
redis.call('SET', KEYS[1], cjson.encode(book), 'PX', string.format('%d', ttl))
return reply
