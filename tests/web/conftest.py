"""A real `pullpass serve --objects` subprocess over TLS, shared by the HTTP tests."""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.processes import free_port
from tests.kit.objects_fixture import OBJECTS
from tests.kit.serving import PULLPASS, Server, serving


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    subprocess.run([*PULLPASS, "certs", "--out", str(out), "--host", "127.0.0.1"], check=True)
    return out


@pytest.fixture(scope="session")
def objects_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("objects") / "objects.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": OBJECTS}))
    return path


@pytest.fixture(scope="session")
def server(
    certs: Path, objects_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    port, metrics_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("logs") / "serve.log"
    env = {
        **os.environ,
        # Configured through the environment on purpose: every flag has a PULLPASS_* twin.
        "PULLPASS_PORT": str(port),
        "PULLPASS_METRICS_PORT": str(metrics_port),
        "PULLPASS_CERT_FILE": str(certs / "tls.crt"),
        "PULLPASS_KEY_FILE": str(certs / "tls.key"),
        "PULLPASS_OBJECTS": str(objects_file),
        "PULLPASS_CREDENTIALS_NAMESPACE": "pullpass-system",
        "PULLPASS_LOG_LEVEL": "debug",
        "PULLPASS_SHUTDOWN_DELAY": "0",
    }
    metrics = f"http://127.0.0.1:{metrics_port}"
    argv = [*PULLPASS, "serve", "--address", "127.0.0.1"]
    with serving(argv, log, metrics, 20, env) as process:
        served = Server(f"https://127.0.0.1:{port}", metrics, certs / "ca.crt", log, process)
        # Closed before the server stops: its TLS close would wait for an idle client's reply.
        with served.client:
            yield served
