"""How the sandbox words its error answers: its own dialect, or Kore.ai's documented one.

``bulkops`` (the default) answers the way bulkops was first written against:
404 for a missing campaign, 429 with Retry-After for a rate limit, a JSON
``message`` on every error. ``kore`` answers the way Kore.ai's documentation
and public evidence say the platform does (README, "How answers are read"):
errors shaped ``{"errors": [{"msg": ..., "code": ...}]}``, a missing campaign
is a 400 "not found", an unknown app a 400 "Invalid StreamId", and a
rate-limit refusal carries only the published wording, without Retry-After,
at ``rate_limit_status`` (429 unless set otherwise).

Either dialect can echo the request's ``auth`` token into every error message
(``echo_token``) and pad every message (``pad_messages``), as careless
servers and proxies do.
"""

from __future__ import annotations

import math
import time
from email.utils import formatdate

from aiohttp import web

from bulkops.sandbox.config import Settings

DIALECTS = ("bulkops", "kore")
RATE_LIMIT_MESSAGE = "Rate limit for this API has been reached. Please try again later"
KORE_RATE_LIMIT_MESSAGE = (
    "You've exceeded the per-minute rate limit. Please wait for sometime before retrying."
)
MESSAGES = {
    400: "Campaign is running and cannot be deleted",
    401: "Unauthorized: invalid or expired token",
    403: "Forbidden: no access to this application",
    404: "Campaign not found",
    408: "Request timeout",
    429: RATE_LIMIT_MESSAGE,
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}
KORE_CODES = {401: 4002, 403: 4003, 404: 4004, 429: 4029}  # what Kore.ai puts in errors[].code
# Kore.ai answers an unknown app or account as a bad request, not as "forbidden"
KORE_DENIALS = {"app": (400, "Invalid StreamId"), "account": (400, "Invalid AccountId")}


def retry_after(mode: str, seconds: float) -> dict[str, str]:
    """The Retry-After header for a wait of ``seconds``, in the configured ``mode``."""
    if mode == "none":
        return {}
    if mode == "exact":
        return {"Retry-After": f"{max(seconds, 0.001):.3f}"}
    if mode == "date":  # HTTP dates have whole seconds: round up, never early
        return {"Retry-After": formatdate(math.ceil(time.time() + seconds), usegmt=True)}
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class Replier:
    """Builds one request's error answers in the configured dialect."""

    def __init__(self, settings: Settings, token: str) -> None:
        self._settings = settings
        self._kore = settings.dialect == "kore"
        self._token = token  # echoed only when settings.echo_token asks for it

    @property
    def kore(self) -> bool:
        """Whether answers are in Kore.ai's documented dialect."""
        return self._kore

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        code: int = 0,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        text = self._decorate(message or MESSAGES.get(status, f"Error {status}"))
        if self._kore:
            body: dict[str, object] = {
                "errors": [{"msg": text, "code": code or KORE_CODES.get(status, status)}]
            }
        else:
            body = {"status": "failure", "message": text}
        return web.json_response(body, status=status, headers=headers or None)

    def missing(self) -> web.Response:
        """The campaign does not exist (any more)."""
        message = self._settings.not_found_message or "Campaign not found"
        return self.error(400 if self._kore else 404, message)

    def denied(self, status: int, message: str, what: str) -> web.Response:
        """The auth check refused the call; ``what`` is token, app or account."""
        if self._kore and what in KORE_DENIALS:
            status, message = KORE_DENIALS[what]
        return self.error(status, message)

    def rate_limited(self, wait: float) -> web.Response:
        s = self._settings
        if self._kore:
            message = s.rate_limit_message or KORE_RATE_LIMIT_MESSAGE
            return self.error(s.rate_limit_status, message, code=KORE_CODES[429])
        headers = retry_after(s.retry_after_mode, wait)
        message = s.rate_limit_message or RATE_LIMIT_MESSAGE
        return self.error(s.rate_limit_status, message, headers=headers)

    def _decorate(self, message: str) -> str:
        s = self._settings
        if s.echo_token:
            message += f" (request auth: {self._token})"
        if s.pad_messages:
            message += " " + "." * s.pad_messages
        return message
