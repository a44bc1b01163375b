"""The account's budget shared across machines: the ``SlotBook`` rules as Redis Lua scripts.

``run.rate_store: redis://HOST:PORT/DB`` (or ``$BULKOPS_RATE_STORE``). Each
operation is one server-side script, so it is atomic however many processes
on however many hosts call it, and every time in it is the Redis server's
own clock (``TIME``): hosts whose clocks disagree still agree on the slots.
A slot's answer is stamped when the release reaches Redis, after the answer
reached us: later than the truth, the safe side.

Keys, all under one hash tag so a cluster keeps them on one shard:
``bulkops:{<hash of host and account>}:held`` (token -> owner|granted|lease
end), ``:done`` (sorted set of answers, score = time), ``:wants`` (owner ->
when it was last short), ``:keep`` (largest count and span seen), ``:seq``.
They expire on their own once no run has touched them for a while.

Any Redis error (unreachable, timeout, refused script) becomes a
``RateStoreError``: the run stops sending rather than fall back silently to
a budget nobody else sees.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from bulkops.errors import RateStoreError
from bulkops.model import Target
from bulkops.ratelimit.budget import Answers, account_key, by_sent
from bulkops.ratelimit.slots import WANT_TTL, Cap, Grant

TIMEOUT = 5.0  # seconds for Redis to connect or answer before the run stops

_COMMON = f"""
local WANT_TTL = {WANT_TTL}
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function num(x) return string.format('%.6f', x) end
local function answered(at, owner)
  local seq = redis.call('INCR', KEYS[5])
  redis.call('ZADD', KEYS[2], num(at), owner .. '|' .. seq)
end
local function parse(v)
  local owner, granted, lease_end = string.match(v, '^(.*)|([^|]*)|([^|]*)$')
  return owner, tonumber(granted), tonumber(lease_end)
end
local function settle(now)
  local held = redis.call('HGETALL', KEYS[1])
  for i = 1, #held, 2 do
    local owner, _, lease_end = parse(held[i + 1])
    if lease_end < now then
      redis.call('HDEL', KEYS[1], held[i])
      answered(lease_end, owner)
    end
  end
  local wants = redis.call('HGETALL', KEYS[3])
  for i = 1, #wants, 2 do
    if tonumber(wants[i + 1]) <= now - WANT_TTL then redis.call('HDEL', KEYS[3], wants[i]) end
  end
  local count = tonumber(redis.call('HGET', KEYS[4], 'count') or '0')
  local span = tonumber(redis.call('HGET', KEYS[4], 'span') or '0')
  if count > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', num(now - span))
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(count + 1))
  end
end
local function expire(lease)
  local span = tonumber(redis.call('HGET', KEYS[4], 'span') or '0')
  local ttl = math.ceil(span + lease + 60)
  for i = 1, 5 do redis.call('EXPIRE', KEYS[i], ttl) end
end
"""

# ARGV: owner, want, lease, then count and span of each cap. Returns {wait, token...}.
TAKE = (
    _COMMON
    + """
local owner, want, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_s()
local keep_count = tonumber(redis.call('HGET', KEYS[4], 'count') or '0')
local keep_span = tonumber(redis.call('HGET', KEYS[4], 'span') or '0')
local caps = {}
for i = 4, #ARGV, 2 do
  local count, span = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  table.insert(caps, {count, span})
  keep_count, keep_span = math.max(keep_count, count), math.max(keep_span, span)
end
redis.call('HSET', KEYS[4], 'count', keep_count, 'span', num(keep_span))
settle(now)
local others = 0
local wants = redis.call('HGETALL', KEYS[3])
for i = 1, #wants, 2 do
  if wants[i] ~= owner and tonumber(wants[i + 1]) > now - WANT_TTL then others = others + 1 end
end
local held = redis.call('HGETALL', KEYS[1])
local held_all, held_mine = #held / 2, 0
for i = 2, #held, 2 do
  if parse(held[i]) == owner then held_mine = held_mine + 1 end
end
local prefix = owner .. '|'
local limits = {}
for _, cap in ipairs(caps) do
  local count, span = cap[1], cap[2]
  local recent = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. num(now - span), '+inf', 'WITHSCORES')
  local all, mine = {}, {}
  for i = 1, #recent, 2 do
    local t = tonumber(recent[i + 1])
    table.insert(all, t)
    if string.sub(recent[i], 1, #prefix) == prefix then table.insert(mine, t) end
  end
  table.insert(limits, {count - #all - held_all, all, span})
  if others > 0 then
    local share = math.ceil(count / (others + 1))
    table.insert(limits, {share - #mine - held_mine, mine, span})
  end
end
local grant = want
for _, limit in ipairs(limits) do grant = math.min(grant, limit[1]) end
grant = math.max(0, grant)
local reply = {'0'}
for _ = 1, grant do
  local token = owner .. '#' .. redis.call('INCR', KEYS[5])
  redis.call('HSET', KEYS[1], token, owner .. '|' .. num(now) .. '|' .. num(now + lease))
  table.insert(reply, token)
end
if grant < want then
  redis.call('HSET', KEYS[3], owner, num(now))
  local wait = 0
  for _, limit in ipairs(limits) do
    local room, times, span = limit[1], limit[2], limit[3]
    if room <= grant then
      local drops = grant + 1 - room
      local w = span
      if drops <= #times then w = math.max(0, times[drops] + span - now) end
      wait = math.max(wait, w)
    end
  end
  reply[1] = num(wait)
else
  redis.call('HDEL', KEYS[3], owner)
end
expire(lease)
return reply
"""
)

# ARGV: sent (1/0), lease, then each token and how many seconds ago its answer came.
RELEASE = (
    _COMMON
    + """
local now = now_s()
for i = 3, #ARGV, 2 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    redis.call('HDEL', KEYS[1], ARGV[i])
    if ARGV[1] == '1' then
      local owner, granted = parse(v)
      answered(math.max(now - math.max(tonumber(ARGV[i + 1]), 0), granted), owner)
    end
  end
end
expire(tonumber(ARGV[2]))
return 0
"""
)

# ARGV: lease, then seconds ago of each earlier answer. Returns how many were added.
PRELOAD = (
    _COMMON
    + """
local now = now_s()
local theirs = {}
for i = 2, #ARGV do
  local ago = tonumber(ARGV[i])
  if ago >= 0 then table.insert(theirs, now - ago) end
end
table.sort(theirs, function(a, b) return a > b end)
if #theirs == 0 then return 0 end
local ours = redis.call('ZREVRANGE', KEYS[2], 0, #theirs - 1, 'WITHSCORES')
local added = 0
for rank, t in ipairs(theirs) do
  local i = 2 * rank - 1
  if i < #ours then
    if t > tonumber(ours[i + 1]) then
      redis.call('ZREM', KEYS[2], ours[i])
      answered(t, '')
    end
  else
    answered(t, '')
    added = added + 1
  end
end
expire(tonumber(ARGV[1]))
return added
"""
)


def describe_url(url: str) -> str:
    """The Redis URL without its password, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


class RedisStore:
    """A ``BudgetStore`` in Redis (``redis.asyncio``), shared by every host naming it."""

    def __init__(self, url: str, target: Target, *, lease: float) -> None:
        import redis.asyncio as aioredis  # only runs that use Redis pay for importing it

        self.description = f"the shared rate budget at {describe_url(url)}"
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        key = account_key(target)
        self.keys = [
            f"bulkops:{{{key}}}:{part}" for part in ("held", "done", "wants", "keep", "seq")
        ]
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{os.urandom(3).hex()}"
        self._lease = lease
        self._take = self._client.register_script(TAKE)
        self._release = self._client.register_script(RELEASE)
        self._preload = self._client.register_script(PRELOAD)

    async def take(self, want: int, caps: Sequence[Cap], answers: Answers = ()) -> Grant:
        for sent, chosen in by_sent(answers):
            await self.release(chosen, sent=sent)
        args: list[Any] = [self.owner, want, self._lease]
        for count, span in caps:
            args += [count, repr(float(span))]
        reply = await self._run(self._take, args)
        tokens = tuple(t.decode() if isinstance(t, bytes) else str(t) for t in reply[1:])
        return Grant(tokens, float(reply[0]))

    def take_now(self, want: int, caps: Sequence[Cap], answers: Answers = ()) -> None:
        return None  # every step is a round trip to Redis

    async def release(self, answers: Sequence[tuple[str, float]], *, sent: bool = True) -> None:
        if answers:
            args: list[Any] = ["1" if sent else "0", self._lease]
            for token, ago in answers:
                args += [token, repr(float(ago))]
            await self._run(self._release, args)

    async def preload(self, answered_ago: Sequence[float]) -> int:
        if not answered_ago:
            return 0
        return int(await self._run(self._preload, [self._lease, *map(repr, answered_ago)]))

    async def close(self) -> None:
        try:
            await self._client.hdel(self.keys[2], self.owner)
        except Exception:  # noqa: BLE001 - leaving: its mark lapses in WANT_TTL anyway
            pass
        finally:
            await self._client.aclose()

    async def _run(self, script: Any, args: list[Any]) -> Any:
        from redis.exceptions import RedisError

        try:
            return await script(keys=self.keys, args=args)
        except (RedisError, OSError) as exc:
            raise RateStoreError(
                f"{self.description} cannot be used ({str(exc)[:200]}): stopping, since "
                "sending without it could exceed the account's rate limit"
            ) from exc
