"""What a server's message says, by its wording: not found, rate limited, a wrong app or account.

Kore.ai documents its rate-limit refusals by wording only, and answers a
missing item with a 400 whose message says "not found". The built-in
wordings are listed in the README ("How answers are read"); a job's
``answers:`` globs add to them. Matching is case-insensitive and ignores how
the apostrophe is written.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from bulkops.model import BUILT_IN_ONLY, Wordings

# Globs on the whole message, case-insensitive (the README lists them).
NOT_FOUND = ("*not found*", "*does not exist*", "*doesn't exist*", "*no longer exists*")
RATE_LIMITED = (
    "*rate limit for this api has been reached*",  # older pages: "... Please try again later"
    "*exceeded the per-* rate limit*",  # "You've exceeded the per-minute rate limit. ..."
    "*too many requests*",
)
# A Create refused because the name is taken (Kore.ai documents no wording: "Campaign name
# already exists" is the expected one). The name must be said: a contact list "already
# exists" is no campaign that exists.
NAME_TAKEN = (
    "*name*already exist*",
    "*name*already taken*",
    "*name*already in use*",
    "*name*is taken*",
    "*duplicate*name*",
    "*campaign*already exist*",
)

# A message naming the app (stream, bot, iid) or the account as unknown: the
# target is wrong, not the campaign. Words, so a campaign name cannot match by accident.
_BAD = r"(?:invalid|unknown|not found|does not exist|doesn't exist|is not valid)"
_APP = r"(?:stream|streamid|stream id|app|appid|app id|application|bot|botid|bot id|iid)"
_ACCOUNT = r"(?:account|accountid|account id)"
APP_INVALID = re.compile(rf"\b(?:invalid|unknown)\s+{_APP}\b|\b{_APP}\s+(?:is\s+)?{_BAD}", re.I)
ACCOUNT_INVALID = re.compile(
    rf"\b(?:invalid|unknown)\s+{_ACCOUNT}\b|\b{_ACCOUNT}\s+(?:is\s+)?{_BAD}", re.I
)


class _Globs:
    """Case-insensitive globs on a whole message. Every answer is checked for a
    rate-limit wording, so ``*words*`` (most globs) is a plain substring test."""

    def __init__(self, patterns: Iterable[str]) -> None:
        globs = [p.lower() for p in patterns]
        self._words = tuple(g[1:-1] for g in globs if _is_words(g))
        # a leading * becomes a search: no backtracking over the whole message
        others = [
            ("" if g.startswith("*") else r"\A") + fnmatch.translate(g.lstrip("*"))
            for g in globs
            if not _is_words(g)
        ]
        self._others = re.compile("|".join(others), re.S) if others else None

    def match(self, message: str | None) -> bool:
        if not message:
            return False
        text = message.lower().replace("\u2019", "'")
        if any(words in text for words in self._words):
            return True
        return self._others is not None and self._others.search(text) is not None


def _is_words(glob: str) -> bool:
    inner = glob[1:-1]
    return len(glob) > 2 and glob[0] == glob[-1] == "*" and not any(c in inner for c in "*?[")


class WordingMatcher:
    """The built-in wordings plus a job's ``answers:``, compiled once."""

    def __init__(self, extra: Wordings = BUILT_IN_ONLY) -> None:
        self.not_found = _Globs((*NOT_FOUND, *extra.not_found)).match
        self.rate_limited = _Globs((*RATE_LIMITED, *extra.rate_limited)).match
        self.name_taken = _Globs(NAME_TAKEN).match

    @staticmethod
    def wrong_target(message: str | None) -> str | None:
        """``target.app_id`` or ``target.account_id`` when the message says it is invalid."""
        if not message:
            return None
        if APP_INVALID.search(message):
            return "target.app_id"
        if ACCOUNT_INVALID.search(message):
            return "target.account_id"
        return None
