"""Keeping what a server says short and free of tokens before anyone stores or shows it.

A server (or a proxy) may echo the request's ``auth`` header back, or answer
with a page of any size. Everything that leaves ``kore`` is scrubbed here
first: the request's own token and anything shaped like a JWT become
``[redacted]``, and a message keeps at most ``MESSAGE_CHARS`` characters.
"""

from __future__ import annotations

import re
from typing import Any

MESSAGE_CHARS = 500
REDACTED = "[redacted]"
# A JWT's header is base64url of '{"', so every JWT starts with eyJ; so does any base64 JSON.
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*){0,2}")
_JWT_BYTES = re.compile(rb"eyJ[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*){0,2}")


def scrub_bytes(raw: bytes, token: str) -> bytes:
    """``raw`` with the token and JWTs replaced; JSON stays valid (none of them holds a quote).

    Runs on every answer, so the usual case is one scan: a minted token is a JWT.
    """
    if token and not token.startswith("eyJ"):  # a pre-made token of another shape
        secret = token.encode()
        if secret in raw:
            raw = raw.replace(secret, REDACTED.encode())
    if raw.find(b"eyJ") >= 0:
        raw = _JWT_BYTES.sub(REDACTED.encode(), raw)
    return raw


def scrub_text(text: str, token: str = "") -> str:
    """``text`` with the token and JWTs replaced (any length)."""
    if token and token in text:
        text = text.replace(token, REDACTED)
    return _JWT.sub(REDACTED, text) if "eyJ" in text else text


def clean_message(text: str, token: str = "") -> str:
    """A message as it may be stored: scrubbed, then cut to MESSAGE_CHARS characters."""
    text = scrub_text(text, token)
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def scrub_data(value: Any, token: str = "") -> Any:
    """A decoded JSON value with every string scrubbed (for bodies whose escapes hid a token)."""
    if isinstance(value, str):
        return scrub_text(value, token)
    if isinstance(value, dict):
        return {scrub_text(k, token): scrub_data(v, token) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_data(v, token) for v in value]
    return value
