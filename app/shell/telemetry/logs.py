"""Structured JSON logs, one object per line, on stderr.

Callers pass names and counts only; nothing here inspects values, so the rule that no credential
data is logged is kept where log lines are written, and checked by tests.
"""

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from app.shell.telemetry import metrics

# Loggers whose lines anyone who can reach a port can cause: a bad review, a slow or broken
# connection, an invalid HTTP request (uvicorn.error). Each gets its own RateLimit.
FLOODABLE = ("pullpass.http", "pullpass.admission", "uvicorn.error")

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return orjson.dumps(entry, default=str).decode()


class RateLimit(logging.Filter):
    """A token bucket: `burst` lines at once, then `rate` a second; the rest are counted in
    pullpass_log_lines_suppressed_total instead of written, so no client can flood the logs."""

    def __init__(
        self, rate: float = 5.0, burst: float = 50.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        metrics.LOG_LINES_SUPPRESSED.labels(record.name).inc()
        return False


def setup(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    for name in FLOODABLE:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RateLimit)]:
            logger.removeFilter(old)
        logger.addFilter(RateLimit())
