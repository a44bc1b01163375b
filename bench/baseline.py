"""The bare-aiohttp baseline: the same DELETEs bulkops sends, and nothing else.

One ClientSession, an asyncio.Semaphore of ``--concurrency``, a fresh HS256 JWT
(pyjwt, unique ``jti``) per request, the same ``auth``/``iid``/``accountId``
headers and path. No retries, no rate limit, no audit log, no progress.
Prints one JSON object: elapsed seconds (first request to last answer) and
the count of answers by HTTP status (``error`` for a request that got none).

    .venv/bin/python bench/baseline.py --url http://127.0.0.1:PORT --ids ids.txt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from urllib.parse import quote

import aiohttp
import jwt

TOKEN_TTL = 300  # seconds, bulkops' default
SUBJECT = "bulkops"


def read_ids(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def mint(client_id: str, secret: str) -> str:
    now = int(time.time())
    claims = {
        "appId": client_id,
        "sub": SUBJECT,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


async def delete_all(args: argparse.Namespace, ids: list[str]) -> tuple[float, Counter[str]]:
    base = f"{args.url.rstrip('/')}/agentassist/api/v1/public/{quote(args.app_id, safe='')}"
    fixed = {"iid": args.app_id, "accountId": args.account_id}
    statuses: Counter[str] = Counter()
    gate = asyncio.Semaphore(args.concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(campaign_id: str) -> None:
            url = f"{base}/campaign/{quote(campaign_id, safe='')}?campaignType={args.type}"
            async with gate:
                headers = {"auth": mint(args.client_id, args.secret), **fixed}
                try:
                    async with session.delete(url, headers=headers) as resp:
                        await resp.read()
                        statuses[str(resp.status)] += 1
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    statuses["error"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(cid) for cid in ids))
        elapsed = time.perf_counter() - started
    return elapsed, statuses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="sandbox base URL (loopback)")
    p.add_argument("--ids", required=True, metavar="FILE", help="one campaign id a line")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--client-id", default="cs-sandbox-demo")
    p.add_argument("--secret-env", default="KOREAI_CLIENT_SECRET", metavar="NAME")
    p.add_argument("--app-id", default="st-sandbox-app")
    p.add_argument("--account-id", default="acc-sandbox")
    p.add_argument("--type", default="voice", help="campaignType (default %(default)s)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = p.parse_args(argv)
    args.secret = os.environ.get(args.secret_env)
    if not args.secret:
        p.error(f"set the client secret in ${args.secret_env}")
    ids = read_ids(args.ids)
    elapsed, statuses = asyncio.run(delete_all(args, ids))
    doc = {"requests": len(ids), "elapsed_s": round(elapsed, 4), "statuses": dict(statuses)}
    json.dump(doc, sys.stdout)
    sys.stdout.write("\n")
    ok = sum(n for s, n in statuses.items() if s.startswith("2"))
    return 0 if ok == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
