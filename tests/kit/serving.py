"""A real `pullpass serve` subprocess: started ready, stopped on exit, and a client for it."""

import contextlib
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.kit.eventually import eventually

PULLPASS = [sys.executable, "-m", "app"]


class Server:
    def __init__(
        self, base: str, metrics: str, ca: Path, log: Path, process: subprocess.Popen[bytes]
    ):
        self.base = base
        self.metrics = metrics
        self.log = log
        self.process = process
        self.client = httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=10)

    def post(self, body: bytes | dict[str, Any], **kw: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(f"{self.base}/mutate", content=content, **kw)

    def logs(self) -> str:
        return self.log.read_text()


@contextlib.contextmanager
def serving(
    argv: list[str], log: Path, metrics: str, timeout: float, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A `pullpass serve` subprocess, ready (/readyz 200) on entry and stopped on exit."""
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, stderr=sink)
    try:
        eventually(
            lambda: process.poll() is not None or httpx.get(f"{metrics}/readyz").status_code == 200,
            timeout,
            "pullpass serve to be ready",
            every=0.05,
            ignoring=(httpx.HTTPError,),
        )
        assert process.poll() is None, f"pullpass serve exited: {log.read_text()[-2000:]}"
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
