"""Tokens for the ``auth`` header: a fresh HS256 JWT per request, or a pre-made token."""

from __future__ import annotations

import itertools
import secrets
import time
import warnings
from collections.abc import Callable
from typing import Protocol

import jwt

from bulkops.errors import AuthError
from bulkops.model import Auth


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
        self._secret = secret
        self._subject = subject
        self._ttl = int(ttl)
        self._clock = clock
        # unique across runs by the random prefix, within a run by the counter
        self._jti_prefix = secrets.token_hex(8)
        self._serial = itertools.count(1)
        # a key under 32 bytes is weak for HS256; it is the platform's, not ours
        # to lengthen, so the CLI warns once
        self.short_key = len(secret.encode()) < 32

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
            return jwt.encode(claims, self._secret, algorithm="HS256")
        with warnings.catch_warnings():  # pyjwt would warn at every token; the CLI warns once
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            return jwt.encode(claims, self._secret, algorithm="HS256")

    def __repr__(self) -> str:
        return f"JwtMinter(client_id={self._client_id!r}, secret='***')"


class StaticToken:
    """A token made elsewhere and handed in through the environment or a file.

    Its ``exp`` claim, if it has one, is honoured: an expired token is never
    sent; ``token()`` raises AuthError instead, which aborts the run.
    """

    def __init__(self, token: str, *, clock: Callable[[], float] = time.time) -> None:
        self._token = token
        self._clock = clock
        try:
            exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        except jwt.PyJWTError:
            exp = None  # not a JWT we can read: the server will judge it
        self._expires = float(exp) if isinstance(exp, int | float) else None

    def token(self) -> str:
        if self._expires is not None and self._clock() >= self._expires:
            raise AuthError("the pre-made token has expired (its exp claim): make a new one")
        return self._token

    def __repr__(self) -> str:
        return "StaticToken('***')"


def token_source(auth: Auth) -> TokenSource:
    """The job's way of signing requests: its pre-made token, or a minter for its secret."""
    if auth.token is not None:
        return StaticToken(auth.token.reveal())
    assert auth.client_secret is not None  # the job loader guarantees one of the two
    return JwtMinter(
        auth.client_id, auth.client_secret.reveal(), subject=auth.subject, ttl=auth.token_ttl
    )
