"""Stopping loses no review: after SIGTERM, /mutate drains before the process exits.

The API server does not retry a review that gets EOF, so each case here is a pod that would be
admitted without its credentials if pullpass closed the connection under it.
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from localcluster.processes import free_port
from tests.kit.objects import pod, review
from tests.kit.raw_http import closed_by_server, read_response, request_bytes
from tests.kit.serving import PULLPASS, serving

DELAY = 6  # seconds of drain: long enough that a loaded machine cannot pass for "at once"


def _connect(port: int, ca: Path) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(ca))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


REQUEST = request_bytes(json.dumps(review(pod("team-a", "quay.io/x/y"))).encode())
FIRST_LINE = b"POST /mutate HTTP/1.1\r\n"


def _served(answer: tuple[int, dict[str, str], bytes]) -> dict[str, str]:
    status, headers, body = answer
    assert status == 200, body
    assert json.loads(body)["response"]["patch"], body  # team-a's credential was added
    return headers


@dataclass
class Stopping:
    process: subprocess.Popen[bytes]
    port: int
    metrics: str
    ca: Path


@pytest.fixture
def stopping(certs: Path, objects_file: Path, tmp_path: Path) -> Iterator[Stopping]:
    """A server of its own, since these tests stop it."""
    port, metrics_port = free_port(), free_port()
    argv = [
        *PULLPASS,
        "serve",
        "--address=127.0.0.1",
        f"--port={port}",
        f"--metrics-port={metrics_port}",
        f"--cert-file={certs / 'tls.crt'}",
        f"--key-file={certs / 'tls.key'}",
        f"--objects={objects_file}",
        "--credentials-namespace=pullpass-system",
        f"--shutdown-delay={DELAY}",
    ]
    metrics = f"http://127.0.0.1:{metrics_port}"
    with serving(argv, tmp_path / "serve.log", metrics, 20, dict(os.environ)) as process:
        yield Stopping(process, port, metrics, certs / "ca.crt")


def test_sigterm_drains_then_exits_without_cutting_a_review(stopping: Stopping) -> None:
    process, port, ca = stopping.process, stopping.port, stopping.ca
    kept = _connect(port, ca)
    kept.sendall(REQUEST)
    assert "close" not in _served(read_response(kept)).get("connection", "")
    late = _connect(port, ca)
    late.sendall(FIRST_LINE)  # a review has begun arriving

    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    time.sleep(0.5)
    ready = httpx.get(f"{stopping.metrics}/readyz?verbose")
    assert ready.status_code == 503, ready.text
    assert "draining" in ready.text, ready.text

    # A kept-alive connection is still answered, and then closed by the server.
    kept.sendall(REQUEST)
    assert _served(read_response(kept))["connection"] == "close"
    assert closed_by_server(kept)
    # So is a new one.
    fresh = _connect(port, ca)
    fresh.sendall(REQUEST)
    assert _served(read_response(fresh))["connection"] == "close"

    # The drain ends while the late review is still arriving: it is answered, not cut off.
    time.sleep(max(0.0, signalled + DELAY + 1 - time.monotonic()))
    assert process.poll() is None, "exited with a review half-arrived"
    late.sendall(REQUEST.removeprefix(FIRST_LINE))
    assert _served(read_response(late))["connection"] == "close"
    for sock in (kept, late, fresh):
        sock.close()  # as the API server does on `connection: close`
    assert process.wait(10) == 0
    assert time.monotonic() - signalled >= DELAY


def test_a_second_signal_stops_at_once(stopping: Stopping) -> None:
    process = stopping.process
    process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert process.poll() is None, "stopped without draining"
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    assert process.wait(10) == 0
    assert time.monotonic() - started < DELAY - 1
