"""The answers of the sandbox's injected faults that are not a plain HTTP status.

Faults are named (``failure_body``, ``html``, ...) wherever a status is
accepted: ``error_rates``, ``scripted``, ``fail_always``. None of them
deletes anything: they imitate a proxy, a gateway or a platform that says
"no" in a 2xx, so a client that believes them records a delete that did not
happen.
"""

from __future__ import annotations

import json

from aiohttp import web

from bulkops.sandbox.config import (
    FAILURE_BODY,
    HTML,
    HTML_404,
    NON_JSON,
    REDIRECT,
    TRUNCATED,
    Settings,
)
from bulkops.sandbox.dialect import Replier

REDIRECTED = "/_sandbox/redirected"

LOGIN_PAGE = """<!DOCTYPE html>
<html><head><title>Sign in - Corporate Access Gateway</title></head>
<body><h1>Please sign in</h1>
<form method="post" action="/login"><input name="user"><input name="password" type="password">
<button>Sign in</button></form></body></html>
"""
NGINX_404 = """<html>
<head><title>404 Not Found</title></head>
<body>
<center><h1>404 Not Found</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


def fault_answer(
    fault: int, request: web.Request, replier: Replier, settings: Settings
) -> web.Response:
    """The answer of an injected fault (not DROP or HANG): a named one or an HTTP status."""
    if fault == NON_JSON:
        return web.Response(status=502, text="<html>Bad gateway</html>", content_type="text/html")
    if fault == FAILURE_BODY:
        body = {"status": "failure", "message": "Campaign could not be deleted"}
        return web.json_response(body, status=200)
    if fault == HTML:
        return web.Response(status=200, text=LOGIN_PAGE, content_type="text/html")
    if fault == TRUNCATED:
        whole = json.dumps({"status": "success", "message": "Campaign deleted", "data": {}})
        return web.Response(
            status=200, text=whole[: len(whole) // 2], content_type="application/json"
        )
    if fault == HTML_404:
        return web.Response(status=404, text=NGINX_404, content_type="text/html")
    if fault == REDIRECT:
        location = f"{request.scheme}://{request.host}{REDIRECTED}{request.path_qs}"
        return web.Response(status=settings.redirect_status, headers={"Location": location})
    if fault == 429:
        return replier.rate_limited(settings.scripted_retry_after)
    return replier.error(fault)
