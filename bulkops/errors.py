"""The one exception tree of bulkops.

    BulkOpsError
    ├── JobError          bad usage or job file: exit 2, raised before any request
    ├── LockedError       another run holds the audit log: exit 2, nothing sent
    ├── AuditWriteError   the audit log cannot be written (disk full, file size limit, I/O
    │                     error): nothing more is sent; exit 3
    └── ApiError          an answer (or the lack of one) from the Kore.ai API
        ├── AbortError        the target or credentials are wrong: the whole run aborts (.field)
        │   ├── AuthError         401/403, or a pre-made token that expired
        │   └── TargetUnreachable the target could not be reached at all (refused, DNS, TLS)
        ├── RateStoreError    the account's shared rate budget cannot be read: the run aborts
        ├── RetryableError    408, 5xx, connection errors, timeouts (.retry_after)
        │   ├── RateLimited       429, or a rate-limit wording on any status
        │   └── Unreachable       one try that could not reach the target at all
        └── PermanentError    other 4xx, a 2xx that is no success: the campaign fails, no retry
            ├── NotFound      404, or 400/410 saying the campaign does not exist: already gone
            └── NameTaken     a Create answered 400/409 that the name exists: the campaign exists

    Interrupted (a KeyboardInterrupt, not a BulkOpsError): SIGHUP/SIGINT/SIGTERM before a
    run started; ``signum`` says which. Nothing was deleted.

aiohttp's exceptions are translated in ``kore.client`` and re-raised ``from exc``;
nothing outside ``kore.client`` sees them.
"""

from __future__ import annotations

from typing import Any

EXIT_USAGE = 2  # bad usage, invalid job, locked log: nothing was sent
EXIT_ABORTED = 3  # the run stopped early, or what it wrote down is incomplete


class BulkOpsError(Exception):
    """Base of every error bulkops raises on purpose."""


class JobError(BulkOpsError):
    """The job file or the command line is wrong; nothing has been sent."""


class LockedError(BulkOpsError):
    """Another run holds the lock on the audit log."""


class AuditWriteError(BulkOpsError):
    """A line could not be appended to the audit log; the log still ends on a whole line."""


class Interrupted(KeyboardInterrupt):
    """A signal arrived before a run had started; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class ApiError(BulkOpsError):
    """An API call did not succeed.

    ``status`` is the HTTP status (None when no answer arrived), ``message`` the
    server's own message when it sent one, ``data`` its ``data`` object.
    """

    def __init__(
        self,
        explanation: str,
        *,
        status: int | None = None,
        message: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.status = status
        self.message = message
        self.data = data


class AbortError(ApiError):
    """The answer says the target or the credentials are wrong: the run must stop.

    ``field`` names what to check: ``target.host``, ``target.app_id``,
    ``target.account_id`` or ``auth``; the explanation says it for people.
    """

    def __init__(self, explanation: str, *, field: str = "auth", **kw: Any) -> None:
        super().__init__(explanation, **kw)
        self.field = field


class AuthError(AbortError):
    """401/403: credentials or scope are wrong; the run must stop."""


class TargetUnreachable(AbortError):
    """A few tries could not reach the target at all before it ever answered."""


class RetryableError(ApiError):
    """A transient failure; ``retry_after`` is the server's wish in seconds, if any."""

    def __init__(self, explanation: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(explanation, **kw)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """The server refused the request by a rate limit (429, or its wording on any status)."""


class Unreachable(RetryableError):
    """This try could not reach the target at all: refused, DNS, TLS, connect timeout."""


class RateStoreError(ApiError):
    """The account's shared rate budget (file or Redis) cannot be used: nothing more may be
    sent, since sending without it could exceed the account's limit."""


class PermanentError(ApiError):
    """A 4xx answer that retrying will not change."""


class NotFound(PermanentError):
    """404: the campaign does not exist (any more)."""


class NameTaken(PermanentError):
    """A Create was refused because a campaign of that name exists (400/409 saying so)."""


def field_to_check(exc: ApiError) -> str | None:
    """The job field an error points to when its own words do not name one: a request that
    got no answer at all points to ``target.host``. An AbortError names its field itself."""
    if isinstance(exc, RetryableError) and exc.status is None:
        return "target.host"
    return None
