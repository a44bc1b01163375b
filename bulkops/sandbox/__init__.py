"""A local Kore.ai-compatible campaign API on loopback, with switchable faults and limits.

For the demo, the end-to-end tests and the benchmark. Speaks exactly the calls
bulkops sends (list, GET, DELETE, Stop and Create, on the v1 and v2 path families), checks the
JWT the way Kore.ai does (HS256, ``appId``, ``exp``, ``iat``, enforced unique ``jti``),
and enforces strict rolling-window rate limits. Independent of ``bulkops.kore`` and
``bulkops.engine`` (the client, its tokens and the limiter).

Every campaign call goes: auth -> rate limit -> latency -> faults -> real handling.
A fault never deletes anything. A dropped request gets its connection closed
with no answer at all (aiohttp clients see ``ServerDisconnectedError``).

    async with Sandbox(SandboxConfig(campaigns=20, rates=("5/s",))) as sb:
        ...  # sb.url, sb.stats, sb.configure(drop_rate=0.1), sb.add_campaigns(...)

The package keeps to itself: nothing in it imports the rest of bulkops. The
sandbox checks the client, so it must not share the client's mistakes.

- ``config``: ``SandboxConfig`` and the run-time ``Settings``, with their checks.
- ``store``: the campaigns and the list call's pages.
- ``state``: rate windows, stats, JWT checks and fault picking; no HTTP.
- ``dialect``: how error answers are worded: its own, or Kore.ai's (``--dialect kore``).
- ``faults``: the answers of the named faults (2xx failure bodies, HTML pages, redirects...).
- ``create``: Kore.ai's Create call: the body's checks, taken names, Preparing then Ready.
- ``server``: the aiohttp routes and ``Sandbox``.
- ``thread``: ``SandboxThread``, for synchronous callers.
- ``flips``: campaigns whose status changes while a run goes on (on a schedule or on demand).
- ``cli``: ``bulkops sandbox`` (``main``).
"""

from bulkops.sandbox.cli import main
from bulkops.sandbox.config import SandboxConfig, parse_rate
from bulkops.sandbox.server import Sandbox
from bulkops.sandbox.thread import SandboxThread

__all__ = ["Sandbox", "SandboxConfig", "SandboxThread", "main", "parse_rate"]
