"""Helpers shared by the suites: free ports, waiting, and building credentials and reviews."""

import base64
import contextlib
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def case_id(text: str) -> str:
    """A test id for a table case: printable ASCII, anything else as U+XXXX.

    pytest escapes the text an `ids=` callable returns once per session; a process that runs a
    second session (mutmut's workers) escapes it again, asks for node ids that no longer exist,
    and counts the error as a kill. Text needing no escape is the same in every session.
    """
    return "".join(
        c if c.isascii() and c.isprintable() and c != "\\" else f"U+{ord(c):04X}" for c in text
    )


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextlib.contextmanager
def serving(
    argv: list[str], log: Path, metrics: str, timeout: float, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A `pullpass serve` subprocess, ready (/readyz 200) on entry and stopped on exit."""
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, stderr=sink)
    try:
        wait_for(
            lambda: process.poll() is not None or httpx.get(f"{metrics}/readyz").status_code == 200,
            timeout,
            "pullpass serve to be ready",
        )
        assert process.poll() is None, f"pullpass serve exited: {log.read_text()[-2000:]}"
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def dockerconfigjson(keys: dict[str, tuple[str, str]]) -> str:
    """The base64 `.dockerconfigjson` for registry key -> (username, password)."""
    auths = {
        key: {
            "username": user,
            "password": password,
            "auth": base64.b64encode(f"{user}:{password}".encode()).decode(),
        }
        for key, (user, password) in keys.items()
    }
    return base64.b64encode(json.dumps({"auths": auths}).encode()).decode()


def secret(
    namespace: str,
    name: str,
    keys: dict[str, tuple[str, str]],
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    legacy: bool = False,
) -> dict[str, Any]:
    if legacy:
        flat = {
            k: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
            for k, (u, p) in keys.items()
        }
        data = {".dockercfg": base64.b64encode(json.dumps(flat).encode()).decode()}
    else:
        data = {".dockerconfigjson": dockerconfigjson(keys)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "type": "kubernetes.io/dockercfg" if legacy else "kubernetes.io/dockerconfigjson",
        "data": data,
    }


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def pod(
    namespace: str,
    *images: str,
    init: tuple[str, ...] = (),
    pull_secrets: tuple[str, ...] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    }
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": image} for i, image in enumerate(init)]
    if pull_secrets is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    metadata: dict[str, Any] = {"name": "p", "namespace": namespace, "labels": labels or {}}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    kind: str = "Pod",
    group: str = "",
    dry_run: bool = False,
) -> dict[str, Any]:
    namespace = ((obj or {}).get("metadata") or {}).get("namespace", "default")
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": kind.lower() + "s"},
            "operation": operation,
            "namespace": namespace,
            "name": "p",
            "dryRun": dry_run,
            "object": obj,
        },
    }
