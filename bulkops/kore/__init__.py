"""The Kore.ai campaign API on aiohttp: calls, tokens, reading answers (no retries, no limits)."""
