"""JWT minting: what pyjwt (and so Kore.ai) verifies, per request."""

from __future__ import annotations

import jwt
import pytest

from bulkops.errors import AuthError
from bulkops.kore.tokens import JwtMinter, StaticToken

SECRET = "0123456789abcdef0123456789abcdef-secret"


def decode(token: str, secret: str = SECRET) -> dict[str, object]:
    return jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})


def test_claims_and_signature() -> None:
    minter = JwtMinter("cs-app", SECRET, subject="ops", ttl=120, clock=lambda: 1_700_000_000.7)
    token = minter.token()
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = decode(token)
    assert claims["appId"] == "cs-app" and claims["sub"] == "ops"
    assert claims["iat"] == 1_700_000_000 and claims["exp"] == 1_700_000_120
    with pytest.raises(jwt.InvalidSignatureError):
        decode(token, "another-secret-another-secret-another")


def test_every_token_has_its_own_jti_across_minters() -> None:
    a, b = JwtMinter("cs", SECRET), JwtMinter("cs", SECRET)
    jtis = {decode(m.token())["jti"] for m in (a, b) for _ in range(50)}
    assert len(jtis) == 100


def test_tokens_are_fresh_when_minted_later() -> None:
    now = [1000.0]
    minter = JwtMinter("cs", SECRET, ttl=300, clock=lambda: now[0])
    first = decode(minter.token())
    now[0] += 290
    assert decode(minter.token())["exp"] == int(first["exp"]) + 290  # type: ignore[call-overload]


def test_secrets_stay_out_of_repr_and_short_keys_are_flagged() -> None:
    assert SECRET not in repr(JwtMinter("cs", SECRET))
    assert "tok-123" not in repr(StaticToken("tok-123"))
    assert JwtMinter("cs", "short").short_key and not JwtMinter("cs", SECRET).short_key


def test_a_short_key_still_signs_without_a_warning_per_token() -> None:
    # the CLI warns once about the short key; pyjwt's own warning would come at every token
    minter = JwtMinter("cs-app", "short", clock=lambda: 1_700_000_000.0)
    token = minter.token()
    with pytest.warns(jwt.InsecureKeyLengthWarning):  # verifying with it warns, as it should
        claims = decode(token, "short")
    assert claims["appId"] == "cs-app" and claims["iat"] == 1_700_000_000


def test_an_expired_pre_made_token_is_never_sent() -> None:
    made = JwtMinter("cs", SECRET, ttl=60, clock=lambda: 1000.0).token()
    now = [1059.0]
    static = StaticToken(made, clock=lambda: now[0])
    assert static.token() == made
    now[0] = 1060.0
    with pytest.raises(AuthError, match="expired"):
        static.token()
    assert StaticToken("opaque-not-a-jwt").token() == "opaque-not-a-jwt"
