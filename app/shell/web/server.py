"""The HTTP shell: the HTTPS webhook app and the plain-HTTP health and metrics app.

`POST /mutate` is a raw ASGI callable in front of FastAPI: no routing, Request object, pydantic
model or Response class runs per review, because the decision itself costs microseconds and the
framework around it would otherwise cost more than the work (docs/performance.md).
"""

import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from app.core.admission import respond
from app.core.admission.decode import decode
from app.core.admission.handle import View, handle
from app.core.bad_object import BadObject
from app.core.readiness import Readiness
from app.shell.telemetry import metrics
from app.shell.web.protocol import BEGAN

MAX_BODY = 3 * 1024 * 1024
JSON = "application/json"

log = logging.getLogger("pullpass.admission")


# Label children resolved once: `labels()` takes a lock and a dict lookup per call.
_OUTCOMES = {
    outcome: metrics.ADMISSIONS.labels(outcome)
    for outcome in ("patched", "unchanged", "skipped", "rejected", "error", "too_large", "late")
}
_observe = metrics.ADMISSION_SECONDS.observe
_perf_counter = time.perf_counter
_monotonic = time.monotonic


def review_bytes(body: bytes, view: View, deadline: float = math.inf) -> tuple[int, bytes]:
    """Status and body for one review; every failure is a 400 that names it.

    A patch decided after `deadline` (time.monotonic) is counted `late`, not `patched`: the API
    server has given up waiting and admitted the pod without it.
    """
    started = _perf_counter()
    request = None
    try:
        request = decode(body)
        verdict = handle(request, view)
    except BadObject as error:  # a BadReview, or the Pod in it
        _OUTCOMES["rejected"].inc()
        log.info("bad admission review", extra={"why": str(error)[:300]})
        return 400, respond.error(str(error))
    except Exception:
        # A bug must not block pod creation: allow unchanged, as failurePolicy Ignore would.
        _OUTCOMES["error"].inc()
        log.exception("admission failed, allowing the pod unchanged")
        if request is None:  # decoding itself failed: there is no uid to answer for
            return 400, respond.error("body could not be read as an AdmissionReview")
        return 200, respond.review(respond.allowed(request["uid"]))
    out = respond.review(verdict.response)
    outcome = verdict.outcome
    if outcome == "patched" and _monotonic() > deadline:
        outcome = "late"
        log.warning("answered after the API server's timeout", extra={"uid": request["uid"]})
    counter = _OUTCOMES.get(outcome)
    (counter or metrics.ADMISSIONS.labels(outcome)).inc()
    _observe(_perf_counter() - started)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "admission decision",
            extra={
                "uid": request["uid"],
                "namespace": request.get("namespace"),
                "pod": request.get("name"),
                "operation": request["operation"],
                "outcome": outcome,
                "reason": verdict.reason,
                "added": list(verdict.added),
            },
        )
    return 200, out


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADER = (b"content-type", JSON.encode())
_CLOSE_HEADER = (b"connection", b"close")


class WebhookApp:
    """`POST /mutate` answered straight from the ASGI scope; anything else goes to FastAPI.

    The review path is the server's whole job, so it skips routing, Request objects and
    Response classes: one receive loop, one decision, two sends. Measured in docs/performance.md.
    """

    __slots__ = ("_fallback", "_late_after", "_view")

    def __init__(self, view: View, fallback: ASGIApp, late_after: float) -> None:
        self._view = view
        self._fallback = fallback
        self._late_after = late_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/mutate" or scope["method"] != "POST":
            await self._fallback(scope, receive, send)
            return
        body = await receive_body(scope, receive)
        if body is None:
            return  # the client went away (or the read deadline closed it): nobody to answer
        if body is TOO_LARGE:
            metrics.ADMISSIONS.labels("rejected").inc()
            message = f"request body is larger than {MAX_BODY} bytes"
            # Close the connection: the rest of the body is never read.
            await send_json(send, 413, respond.error(message), close=True)
            return
        began = scope["state"].get(BEGAN, math.inf) if "state" in scope else math.inf
        status, out = review_bytes(body, self._view, began + self._late_after)
        await send_json(send, status, out)


TOO_LARGE = b"\x00too large"


async def receive_body(scope: Scope, receive: Receive, limit: int = MAX_BODY) -> bytes | None:
    """The whole body, `TOO_LARGE` as soon as it passes `limit` (declared or counted), or None
    when the client disconnects. A declared size over the limit is refused before any read."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                return TOO_LARGE
            break
    message = await receive()
    if message["type"] != "http.request":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return TOO_LARGE if len(body) > limit else body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_json(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [_JSON_HEADER, (b"content-length", str(len(body)).encode())]
    if close:
        headers.append(_CLOSE_HEADER)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def webhook_app(view: View, late_after: float) -> WebhookApp:
    """The HTTPS app; FastAPI answers only what is not a review (404s, 405s).

    `late_after` is the webhook's timeoutSeconds: a patch decided later is counted `late`.
    """
    fallback = FastAPI(title="pullpass webhook", docs_url=None, redoc_url=None, openapi_url=None)

    async def not_a_review(_: Request) -> Response:
        return Response(respond.error("POST an AdmissionReview"), 405, media_type=JSON)

    fallback.router.add_route("/mutate", not_a_review, methods=["GET", "PUT", "DELETE", "PATCH"])
    return WebhookApp(view, fallback, late_after)


def health_app(ready: Callable[[], Readiness]) -> FastAPI:
    """`/readyz` fails only until the first full lists are in; `?verbose` has a line per watch."""
    app = FastAPI(title="pullpass health", docs_url=None, redoc_url=None, openapi_url=None)

    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    async def readyz(request: Request) -> Response:
        state = ready()
        status = 200 if state.ready else 503
        if "verbose" in request.query_params:
            return Response(state.verbose(), status, media_type="text/plain")
        if state.ready:
            return Response(b'{"status":"ready"}', media_type=JSON)
        return Response(b'{"status":"waiting for the first full list"}', 503, media_type=JSON)

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.router.add_route("/healthz", healthz, methods=["GET"])
    app.router.add_route("/readyz", readyz, methods=["GET"])
    app.router.add_route("/metrics", prometheus, methods=["GET"])
    return app
