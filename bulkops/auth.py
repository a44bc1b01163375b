"""Tokens for the ``auth`` header: a fresh HS256 JWT per request, or a pre-made token."""

from __future__ import annotations

import itertools
import secrets
import time
import warnings
from collections.abc import Callable
from typing import Protocol

import jwt


class TokenSource(Protocol):
    def token(self) -> str:
        """A token valid for at least the next request."""
        ...


class JwtMinter:
    """Mints a JWT per call: ``appId``, ``sub``, ``iat``, ``exp`` and a unique ``jti``.

    Minting per request keeps every token fresh (never sent expired) and gives
    each request its own ``jti`` for apps that enforce JTI.
    """

    def __init__(
        self,
        client_id: str,
        secret: str,
        *,
        subject: str = "bulkops",
        ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_id = client_id
        self._key = secret.encode()
        self._subject = subject
        self._ttl = int(ttl)
        self._clock = clock
        # unique across runs by the random prefix, within a run by the counter
        self._jti_prefix = secrets.token_hex(8)
        self._serial = itertools.count(1)
        # pyjwt warns on every token signed with a key under 32 bytes; the key is
        # the platform's, not ours to lengthen, so the CLI warns once instead
        self.short_key = len(self._key) < 32

    def token(self) -> str:
        now = int(self._clock())
        claims = {
            "appId": self._client_id,
            "sub": self._subject,
            "iat": now,
            "exp": now + self._ttl,
            "jti": f"{self._jti_prefix}-{next(self._serial)}",
        }
        if not self.short_key:
            return jwt.encode(claims, self._key, algorithm="HS256")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            return jwt.encode(claims, self._key, algorithm="HS256")

    def __repr__(self) -> str:
        return f"JwtMinter(client_id={self._client_id!r}, secret='***')"


class StaticToken:
    """A token made elsewhere and handed in through the environment or a file."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return "StaticToken('***')"
