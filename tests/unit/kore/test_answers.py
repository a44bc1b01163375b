"""SPEC "How answers are treated", row by row, on the pure reader (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from bulkops.engine.first_contact import FirstContact
from bulkops.errors import (
    AbortError,
    ApiError,
    AuthError,
    NotFound,
    PermanentError,
    RateLimited,
    RetryableError,
    TargetUnreachable,
    Unreachable,
)
from bulkops.kore.answers import decode_body, read_answer
from bulkops.kore.scrub import MESSAGE_CHARS, clean_message
from bulkops.kore.wordings import WordingMatcher
from bulkops.model import Answer, Wordings

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
HINTS = {
    "target.host": "target.host (https://kore.example)",
    "target.app_id": "target.app_id (st-app)",
    "target.account_id": "target.account_id (acc-1)",
    "auth": "the client secret from environment variable KOREAI_CLIENT_SECRET and auth.client_id",
}
KORE_RATE = "You've exceeded the per-minute rate limit. Please wait for sometime before retrying."


def answer(
    status: int,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    wordings: Wordings = Wordings(),  # noqa: B008 - immutable
) -> Answer | ApiError:
    data = raw if raw is not None else (b"" if body is None else orjson.dumps(body))
    return read_answer(
        status, decode_body(data, False, TOKEN), headers or {}, WordingMatcher(wordings), HINTS
    )


def errors(msg: str, code: int = 400) -> dict[str, Any]:
    return {"errors": [{"msg": msg, "code": code}]}


def test_a_2xx_is_deleted_only_with_a_kore_json_body_not_saying_failure() -> None:
    ok = answer(200, {"status": "success", "message": "Campaign deleted", "data": {"_id": "c"}})
    assert ok == Answer(200, "Campaign deleted", {"_id": "c"})
    assert isinstance(answer(200, {"status": "Deleted", "message": "Campaign Deleted"}), Answer)
    for body, raw, why in [
        ({"status": "failure", "message": "Campaign could not be deleted"}, None, "'failure'"),
        ({"status": "Error"}, None, "'Error'"),
        ({"status": "success", "errors": [{"msg": "x"}]}, None, "errors list"),
        (None, b"<html><title>Sign in</title></html>", "not JSON: <html>"),
        (None, b'{"status": "success", "mess', "not JSON"),
        (None, b"", "empty"),
        (None, b"[1, 2]", "not an object"),
    ]:
        result = answer(200, body, raw=raw)
        assert isinstance(result, PermanentError) and not isinstance(result, NotFound), body
        assert why in result.explanation and result.status == 200


def test_the_message_is_message_else_the_first_errors_msg() -> None:
    result = answer(409, errors("Campaign is running"))
    assert isinstance(result, PermanentError) and result.message == "Campaign is running"
    assert str(result) == "HTTP 409: Campaign is running"
    both = answer(409, {"message": "top", "errors": [{"msg": "inner"}]})
    assert isinstance(both, ApiError) and both.message == "top"


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, {"status": "failure", "message": "Campaign not found"}), (404, {}),
     (400, errors("Campaign not found")), (410, errors("Campaign does not exist")),
     (400, {"message": "campaign doesn\u2019t exist"})],
)  # fmt: skip
def test_not_found_on_404_and_on_400_410_saying_so(status: int, body: dict[str, Any]) -> None:
    assert isinstance(answer(status, body), NotFound)


def test_a_400_not_saying_not_found_is_failed_and_job_wordings_add_to_the_built_in_ones() -> None:
    plain = answer(400, errors("No such campaign in this app"))
    assert type(plain) is PermanentError
    extra = Wordings(not_found=("*NO SUCH CAMPAIGN*",), rate_limited=("*slow down*",))
    assert isinstance(answer(400, errors("No such campaign in this app"), wordings=extra), NotFound)
    assert isinstance(answer(400, errors("Campaign not found"), wordings=extra), NotFound)
    assert isinstance(answer(503, {"message": "Slow down!"}, wordings=extra), RateLimited)
    assert type(answer(503, {"message": "Slow down!"})) is RetryableError


@pytest.mark.parametrize("status", [429, 400, 200, 403, 503])
def test_rate_limit_wordings_on_any_status(status: int) -> None:
    for message in (KORE_RATE, KORE_RATE.replace("'", "\u2019"), "You've exceeded the "
                    "per-hour rate limit.", "Rate limit for this API has been reached. "
                    "Please try again after some time"):  # fmt: skip
        result = answer(status, errors(message))
        assert isinstance(result, RateLimited) and result.retry_after is None, message


def test_429_honours_retry_after_whatever_the_body() -> None:
    result = answer(429, raw=b"<html>slow</html>", headers={"Retry-After": "7"})
    assert isinstance(result, RateLimited) and result.retry_after == 7


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_any_redirect_aborts_naming_the_host(status: int) -> None:
    result = answer(status, raw=b"", headers={"Location": "http://evil.example/x?t=" + TOKEN})
    assert isinstance(result, AbortError) and result.field == "target.host"
    assert "redirected to http://evil.example/x?t=[redacted]" in result.explanation
    assert "check target.host (https://kore.example)" in result.explanation


def test_401_names_where_the_secret_came_from_and_403_the_app_and_account() -> None:
    auth = answer(401, errors("Invalid JWT token", 4002))
    assert isinstance(auth, AuthError) and auth.field == "auth"
    assert "environment variable KOREAI_CLIENT_SECRET" in auth.explanation
    forbidden = answer(403, {"message": "Forbidden"})
    assert isinstance(forbidden, AuthError) and "target.app_id (st-app)" in str(forbidden)
    assert "target.account_id (acc-1)" in str(forbidden)


@pytest.mark.parametrize(
    ("status", "message", "field"),
    [(400, "Invalid StreamId", "target.app_id"), (404, "App not found", "target.app_id"),
     (400, "invalid bot id", "target.app_id"), (400, "Invalid AccountId", "target.account_id"),
     (404, "Account does not exist", "target.account_id")],
)  # fmt: skip
def test_an_invalid_app_or_account_aborts_before_not_found(
    status: int, message: str, field: str
) -> None:
    result = answer(status, errors(message))
    assert isinstance(result, AbortError) and result.field == field
    assert f"check {HINTS[field]}" in result.explanation


def test_a_404_without_kore_json_aborts_but_a_campaign_name_is_no_app() -> None:
    page = answer(404, raw=b"<html><center><h1>404 Not Found</h1></center>nginx</html>")
    assert isinstance(page, AbortError) and page.field == "target.host"
    assert "not JSON" in page.explanation
    assert isinstance(answer(400, errors("Campaign 'Happy Application Drive' not found")), NotFound)


def test_messages_are_scrubbed_of_tokens_and_cut() -> None:
    other_jwt = "eyJraWQiOiIxIn0.eyJ4IjoxfQ.sig-_nature"
    body = {"message": f"bad auth {TOKEN} and {other_jwt} " + "x" * 900_000, "data": {"t": TOKEN}}
    result = answer(400, body)
    assert isinstance(result, ApiError) and result.message is not None
    assert len(result.message) == MESSAGE_CHARS and "eyJ" not in result.explanation
    assert result.message.startswith("bad auth [redacted] and [redacted] xxx")
    assert result.data == {"t": "[redacted]"}
    escaped = b'{"status": "failure", "message": "\\u0065yJhbGci.x.y", "data": {"k": "\\u0065yJz"}}'
    hidden = answer(200, raw=escaped)
    assert isinstance(hidden, ApiError) and "eyJ" not in str(hidden.message) + str(hidden.data)
    assert clean_message("plain token abc", "abc") == "plain token [redacted]"


async def test_first_contact_gives_up_after_a_few_unreachable_tries() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    contact = FirstContact(pause=0.5, sleep=sleep)
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise Unreachable("cannot reach h: connection refused")

    for _ in range(2):
        with pytest.raises(Unreachable):
            await contact.send(refused)
    with pytest.raises(TargetUnreachable, match="3 tries, none answered"):
        await contact.send(refused)
    with pytest.raises(TargetUnreachable):
        await contact.send(refused)
    assert calls == 3 and sleeps == [0.5, 1.0]


async def test_first_contact_opens_for_good_once_anything_answers() -> None:
    contact = FirstContact(pause=0.5, sleep=asyncio.sleep)
    in_flight = peak = 0

    async def call(status: int | None) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)  # a turn of the loop: the others start meanwhile, if let in
        in_flight -= 1
        if status is not None:
            raise PermanentError("no", status=status)

    with pytest.raises(PermanentError):
        await contact.send(lambda: call(400))
    assert contact.reached
    results = await asyncio.gather(
        *(contact.send(lambda: call(None)) for _ in range(5)), return_exceptions=True
    )
    assert results == [None] * 5 and peak == 5
