"""A second mutating webhook that adds a container from another registry: what a sidecar
injector does after pullpass (or after policy mode's policies, which run before any webhook)."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from localcluster.certificates import issue, new_ca, write_pair
from localcluster.kubectl import Kubectl
from tests.kit.raw_http import send_json

SIDECAR_IMAGE = "sidecar.registry.example/tools/sidecar:1"
SELECTOR = {"pullpass-e2e/sidecar": "yes"}


class _AddSidecar(BaseHTTPRequestHandler):
    """Adds one container from another registry unless it is already there."""

    calls: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        containers = request["object"]["spec"]["containers"]
        response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        if all(c["name"] != "sidecar" for c in containers):
            patch = [
                {
                    "op": "add",
                    "path": "/spec/containers/-",
                    "value": {"name": "sidecar", "image": SIDECAR_IMAGE},
                }
            ]
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
        self.calls.append(len(containers))
        body = json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        ).encode()
        send_json(self, 200, body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on what the API server stored."""


@pytest.fixture
def sidecar_webhook(kubectl: Kubectl, tmp_path: Path) -> Iterator[list[int]]:
    """A second mutating webhook, named to run after pullpass, that never reinvokes itself."""
    ca = new_ca("sidecar-ca")
    cert, key = write_pair(issue(ca, "sidecar", hosts=["127.0.0.1"]), tmp_path, "tls")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AddSidecar)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _AddSidecar.calls.clear()
    name = "zz-pullpass-e2e-sidecar"
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "sidecar.e2e.pullpass.io",
                "clientConfig": {
                    "url": f"https://127.0.0.1:{server.server_address[1]}/add",
                    "caBundle": base64.b64encode(ca.cert_pem).decode(),
                },
                "namespaceSelector": {"matchLabels": SELECTOR},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ],
                "failurePolicy": "Fail",
                "timeoutSeconds": 5,
                "reinvocationPolicy": "Never",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    kubectl.apply(config)
    try:
        yield _AddSidecar.calls
    finally:
        kubectl("delete", "mutatingwebhookconfiguration", name, "--ignore-not-found")
        server.shutdown()
        server.server_close()
