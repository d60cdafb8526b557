"""The HTTP suite's view of a `pullpass serve` subprocess, importable by its tests by a full name.

Not in conftest.py: several suites have a conftest, and `from conftest import` picks whichever
was imported first.
"""

import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

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
