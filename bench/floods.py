#!/usr/bin/env python3
"""Floods on the webhook port, as any pod could send them: is the API server still answered?

    .venv/bin/python bench/floods.py                       # this checkout
    .venv/bin/python bench/floods.py --before /tmp/main    # and a checkout of main, side by side

For each flood a child process floods `pullpass serve --objects` (server on core 0, flood on
core 1, loopback only) while this process sends one good review every 0.1 s, each on a new TLS
connection as the API server does after a close, and records its status and time. The server's
RSS is sampled; its log lines are counted. Results: a markdown table on stdout, JSON with
`--json`. With `--before`, each flood runs against the other checkout's server right after
this one's, so both see the same machine.

Floods (each held `--seconds`, connections re-opened as the server closes them):
  idle        2,100 TLS connections that send nothing (the connection cap is 2,048)
  half-hello  4,000 TCP connections that stop halfway through their ClientHello
  huge        four concurrent 2.3 MB reviews of a pod with 40,000 containers, again and again
  namespaces  reviews for random namespace names on 8 kept-alive connections
  bad-input   invalid reviews on 8 kept-alive connections (each one a log line, unlimited)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import random
import resource
import socket
import ssl
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from localcluster.processes import free_port  # noqa: E402

SERVER_CORE, LOAD_CORE = "0", "1"
AUTH = base64.b64encode(b"flood-user:flood-password").decode()
CONFIG = json.dumps({"auths": {"quay.io": {"auth": AUTH}}}).encode()
OBJECTS = [
    {"apiVersion": "v1", "kind": "Namespace",
     "metadata": {"name": "team-a", "labels": {"pullpass.io/inject": "enabled"}}},
    {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
     "metadata": {"name": "quay", "namespace": "team-a"},
     "data": {".dockerconfigjson": base64.b64encode(CONFIG).decode()}},
]  # fmt: skip


def pod(namespace: str, *images: str) -> dict[str, object]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": {"containers": containers}}


def review(obj: dict[str, object]) -> dict[str, object]:
    metadata = obj["metadata"]
    assert isinstance(metadata, dict)
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "flood", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE", "namespace": metadata["namespace"], "object": obj,
        },
    }  # fmt: skip


def request_bytes(body: bytes) -> bytes:
    head = f"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def read_response(sock: ssl.SSLSocket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed before a response")
        data += chunk
    return int(data.split(b" ", 2)[1]), data


GOOD = json.dumps(review(pod("team-a", "quay.io/team/app:v1"))).encode()
HALF_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32)


@dataclass
class Server:
    port: int
    pid: int
    cafile: str
    log: Path

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@contextlib.contextmanager
def serving(checkout: Path, tmp: Path) -> Iterator[Server]:
    """`pullpass serve --objects` from `checkout` (its own `app` package), pinned to core 0."""
    tmp.mkdir(parents=True, exist_ok=True)
    python = [sys.executable, "-P", "-m", "app"]  # -P: `app` from PYTHONPATH, not the cwd
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    certs = tmp / "certs"
    command = [*python, "certs", "--out", str(certs), "--host", "127.0.0.1"]
    subprocess.run(command, env=env, check=True, capture_output=True)
    objects = tmp / "objects.json"
    objects.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": OBJECTS}))
    port, metrics_port = free_port(), free_port()
    log = tmp / "serve.log"
    argv = [
        "taskset", "-c", SERVER_CORE, *python, "serve", "--objects", str(objects),
        "--cert-file", str(certs / "tls.crt"), "--key-file", str(certs / "tls.key"),
        "--port", str(port), "--metrics-port", str(metrics_port), "--address", "127.0.0.1",
        "--shutdown-delay=0",
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, stderr=sink)
    server = Server(port, process.pid, str(certs / "ca.crt"), log)
    try:
        deadline = time.monotonic() + 60
        while probe(server)[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text()[-2000:])
            time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        process.wait(15)


def probe(server: Server) -> tuple[int | str, float]:
    """One good review on a new TLS connection: its status (or error) and seconds."""
    context = ssl.create_default_context(cafile=server.cafile)
    started = time.monotonic()
    try:
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
        ):
            sock.settimeout(10)
            sock.sendall(request_bytes(GOOD))
            status: int | str = read_response(sock)[0]
    except (OSError, AssertionError) as error:
        status = type(error).__name__
    return status, time.monotonic() - started


# --- the floods, each in a child process on core 1 ------------------------------------------


def flood_main(kind: str, port: int, cafile: str, seconds: float) -> None:
    os.sched_setaffinity(0, {int(LOAD_CORE)})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_flood(kind, port, cafile, seconds))


@dataclass
class Target:
    port: int
    context: ssl.SSLContext
    end: float

    def on(self) -> bool:
        return time.monotonic() < self.end

    async def tls(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        connecting = asyncio.open_connection(
            "127.0.0.1", self.port, ssl=self.context, server_hostname="127.0.0.1", limit=2**22
        )
        return await asyncio.wait_for(connecting, 30)


async def idle(target: Target) -> None:
    """A TLS connection that sends nothing, opened again when the server closes it."""
    while target.on():
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            reader, writer = await target.tls()
            await reader.read()
            writer.close()
        await asyncio.sleep(0.05)


async def half_hello(target: Target) -> None:
    """A TCP connection that stops halfway through its ClientHello, again when closed."""
    while target.on():
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
            writer.write(HALF_HELLO)
            await reader.read()
            writer.close()
        await asyncio.sleep(0.05)


async def reviews(target: Target, body: Callable[[], bytes]) -> None:
    """Reviews one after another on a kept-alive connection, re-opened when closed."""
    while target.on():
        with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            reader, writer = await target.tls()
            while target.on():
                writer.write(request_bytes(body()))
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            writer.close()
        await asyncio.sleep(0.05)


def random_namespace() -> bytes:
    name = "".join(random.choices(string.ascii_lowercase, k=20))  # noqa: S311
    return json.dumps(review(pod(name, "quay.io/team/app:v1"))).encode()


HUGE = json.dumps(review(pod("team-a", *(f"quay.io/t/a{i}:v1" for i in range(40_000))))).encode()
CLIENTS: dict[str, tuple[int, Callable[[Target], Awaitable[None]]]] = {
    "idle": (2100, idle),
    "half-hello": (4000, half_hello),
    "huge": (4, lambda target: reviews(target, lambda: HUGE)),
    "namespaces": (8, lambda target: reviews(target, random_namespace)),
    "bad-input": (8, lambda target: reviews(target, lambda: b"{")),
}


async def _flood(kind: str, port: int, cafile: str, seconds: float) -> None:
    target = Target(port, ssl.create_default_context(cafile=cafile), time.monotonic() + seconds)
    count, client = CLIENTS[kind]
    tasks = [asyncio.ensure_future(client(target)) for _ in range(count)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- one flood against one server -----------------------------------------------------------


@dataclass
class Result:
    flood: str
    server: str
    probes: list[tuple[int | str, float]] = field(default_factory=list)
    rss_before: float = 0.0
    rss_peak: float = 0.0
    log_lines: int = 0

    def row(self) -> dict[str, object]:
        times = sorted(t for s, t in self.probes if s == 200)
        answered = len(times)
        within = sum(1 for s, t in self.probes if s == 200 and t <= 1.0)
        return {
            "flood": self.flood,
            "server": self.server,
            "probes": len(self.probes),
            "answered 200": answered,
            "within 1 s": within,
            "median s": round(statistics.median(times), 3) if times else None,
            "max s": round(max(t for _, t in self.probes), 2) if self.probes else None,
            "other answers": sorted({str(s) for s, _ in self.probes if s != 200}),
            "RSS MiB before/peak": f"{self.rss_before:.0f}/{self.rss_peak:.0f}",
            "log lines": self.log_lines,
        }


def run(kind: str, label: str, server: Server, seconds: float) -> Result:
    result = Result(kind, label, rss_before=server.rss_mib())
    lines = len(server.log.read_bytes().splitlines())
    child = multiprocessing.Process(
        target=flood_main, args=(kind, server.port, server.cafile, seconds)
    )
    child.start()
    time.sleep(1.0)  # the flood's first connections are in
    end = time.monotonic() + seconds - 1.0
    while time.monotonic() < end:
        result.probes.append(probe(server))
        result.rss_peak = max(result.rss_peak, server.rss_mib())
        time.sleep(0.1)
    child.join(30)
    if child.is_alive():
        child.kill()
    result.log_lines = len(server.log.read_bytes().splitlines()) - lines
    time.sleep(12)  # what the flood left open times out before the next one
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of main, run side by side")
    parser.add_argument("--seconds", type=float, default=20.0, help="each flood's length")
    parser.add_argument("--floods", default=",".join(CLIENTS), help="comma-separated subset")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pullpass-floods-"))
    checkouts = [("this", REPO)] + ([("before", args.before.resolve())] if args.before else [])
    results: list[Result] = []
    for kind in args.floods.split(","):
        for label, checkout in checkouts:
            with serving(checkout, tmp / f"{kind}-{label}") as server:
                results.append(run(kind, label, server, args.seconds))
                print(json.dumps(results[-1].row()), file=sys.stderr, flush=True)
    rows = [r.row() for r in results]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
