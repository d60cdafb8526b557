"""The HTTP shell: the HTTPS webhook app and the plain-HTTP health and metrics app.

`/mutate` is a bare Starlette route on the FastAPI app: no pydantic model or dependency
resolution runs per review, because the decision itself costs microseconds.
"""

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from app import metrics, respond
from app.decode import BadReview, decode
from app.handle import View, handle

MAX_BODY = 3 * 1024 * 1024
JSON = "application/json"

log = logging.getLogger("pullpass.admission")


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """Stop reading as soon as the body passes `limit`, so a huge upload costs nothing."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def review_bytes(body: bytes, view: View) -> tuple[int, bytes]:
    """Status and body for one review; every failure is a 400 that names it."""
    started = time.perf_counter()
    try:
        request = decode(body)
        verdict = handle(request, view)
    except BadReview as error:
        metrics.ADMISSIONS.labels("rejected").inc()
        log.info("bad admission review", extra={"why": str(error)[:300]})
        return 400, respond.error(str(error))
    except Exception:
        # A bug must not block pod creation: allow unchanged, as failurePolicy Ignore would.
        metrics.ADMISSIONS.labels("error").inc()
        log.exception("admission failed, allowing the pod unchanged")
        return 200, respond.review(respond.allowed(request["uid"]))
    out = respond.review(verdict.response)
    metrics.ADMISSIONS.labels(verdict.outcome).inc()
    metrics.ADMISSION_SECONDS.observe(time.perf_counter() - started)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "admission decision",
            extra={
                "uid": request["uid"],
                "namespace": request.get("namespace"),
                "name": request.get("name"),
                "operation": request["operation"],
                "outcome": verdict.outcome,
                "reason": verdict.reason,
                "added": list(verdict.added),
            },
        )
    return 200, out


def webhook_app(view: View) -> FastAPI:
    app = FastAPI(title="pullpass webhook", docs_url=None, redoc_url=None, openapi_url=None)

    async def mutate(request: Request) -> Response:
        try:
            body = await read_body(request)
        except TooLarge:
            metrics.ADMISSIONS.labels("rejected").inc()
            message = f"request body is larger than {MAX_BODY} bytes"
            return Response(respond.error(message), 413, media_type=JSON)
        status, out = review_bytes(body, view)
        return Response(out, status, media_type=JSON)

    app.router.add_route("/mutate", mutate, methods=["POST"])
    return app


def health_app(ready: Callable[[], bool]) -> FastAPI:
    app = FastAPI(title="pullpass health", docs_url=None, redoc_url=None, openapi_url=None)

    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    async def readyz(_: Request) -> Response:
        if ready():
            return Response(b'{"status":"ready"}', media_type=JSON)
        return Response(b'{"status":"waiting for the first full list"}', 503, media_type=JSON)

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.router.add_route("/healthz", healthz, methods=["GET"])
    app.router.add_route("/readyz", readyz, methods=["GET"])
    app.router.add_route("/metrics", prometheus, methods=["GET"])
    return app
