"""Run `pullpass serve` against a real cluster and register it as a mutating webhook.

Kept apart from pytest so other suites (replication, RBAC, Helm) and scripts can reuse it.
"""

from __future__ import annotations

import base64
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from localcluster.build import REPO
from localcluster.certificates import issue, new_ca, write_pair
from localcluster.errors import ClusterError
from localcluster.processes import Component, free_port

INJECT_LABEL = "pullpass.io/inject"


def pullpass_argv() -> list[str]:
    """The installed `pullpass` command next to this interpreter, else `python -m app`."""
    script = Path(sys.executable).parent / "pullpass"
    if os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "app"]


class Pullpass:
    """One `pullpass serve` subprocess on loopback; restartable on the same ports and certs.

    Every start appends to the same log file, so `logs()` covers the process's whole life.
    """

    def __init__(
        self,
        kubeconfig: Path,
        workdir: Path,
        *,
        credentials_namespace: str = "pullpass-system",
        extra_args: tuple[str, ...] = (),
        name: str = "pullpass",
        admission: str = "webhook",
    ) -> None:
        """`admission="policy"`: no port and no certificate are passed, as none is needed."""
        self.workdir = workdir
        self.port = free_port()
        self.metrics_port = free_port()
        self.url = f"https://127.0.0.1:{self.port}/mutate"
        self.metrics = f"http://127.0.0.1:{self.metrics_port}"
        ca = new_ca(f"{name}-webhook-ca")
        self.ca_pem = ca.cert_pem
        self.ca_file, _ = write_pair(ca, workdir / "certs", "ca")
        serving = issue(ca, name, hosts=["127.0.0.1", "localhost"])
        cert, key = write_pair(serving, workdir / "certs", "tls")
        # No drain on stop: the suites restart webhooks often, and the node suite tests it.
        tls = [f"--port={self.port}", f"--cert-file={cert}", f"--key-file={key}"]
        tls.append("--shutdown-delay=0")
        argv = [
            *pullpass_argv(),
            "serve",
            "--address=127.0.0.1",
            f"--admission={admission}",
            *(tls if admission == "webhook" else []),
            f"--metrics-port={self.metrics_port}",
            f"--kubeconfig={kubeconfig}",
            f"--credentials-namespace={credentials_namespace}",
            # Debug by default: the log test then searches the most verbose output there is.
            f"--log-level={os.environ.get('PULLPASS_E2E_LOG_LEVEL', 'debug')}",
            *extra_args,
        ]
        env = {
            **os.environ,
            "POD_NAMESPACE": credentials_namespace,
            "PYTHONPATH": str(REPO),
        }
        self.component = Component(name, argv, workdir / "logs" / f"{name}.log", env=env)
        self.starts = 0

    def readyz(self) -> int:
        """HTTP status of /readyz, 0 when nothing answers."""
        try:
            with urllib.request.urlopen(f"{self.metrics}/readyz", timeout=2) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"{self.metrics}/metrics", timeout=5) as answer:
            return str(answer.read().decode())

    def start(self, timeout: float = 60) -> None:
        """Start and wait for /readyz 200 (its first full list is in)."""
        self.component.start()
        self.starts += 1
        self.component.wait_until(lambda: self.readyz() == 200, timeout, "ready on /readyz")

    def stop(self) -> None:
        self.component.stop(grace=10)

    def running(self) -> bool:
        return self.component.running()

    def logs(self) -> str:
        return self.component.log.read_text(errors="replace") if self.component.log.exists() else ""

    def wait_readyz(self, status: int, timeout: float) -> float:
        """Seconds until /readyz answers `status`; raises with the log tail on timeout."""
        start = time.monotonic()
        deadline = start + timeout
        while time.monotonic() < deadline:
            if self.readyz() == status:
                return time.monotonic() - start
            time.sleep(0.2)
        raise ClusterError(
            f"pullpass /readyz did not answer {status} within {timeout}s "
            f"(now {self.readyz()}); log tail:\n{self.component.tail()}"
        )


def webhook_configuration(
    name: str, url: str, ca_pem: bytes, *, timeout_seconds: int = 5
) -> dict[str, Any]:
    """The MutatingWebhookConfiguration a cluster admin registers for pullpass."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "pods.pullpass.io",
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem).decode()},
                "namespaceSelector": {"matchLabels": {INJECT_LABEL: "enabled"}},
                "objectSelector": {
                    "matchExpressions": [
                        {"key": INJECT_LABEL, "operator": "NotIn", "values": ["disabled"]}
                    ]
                },
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                        "scope": "Namespaced",
                    },
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE"],
                        "resources": ["pods/ephemeralcontainers"],
                        "scope": "Namespaced",
                    },
                ],
                "failurePolicy": "Ignore",
                "matchPolicy": "Equivalent",
                "timeoutSeconds": timeout_seconds,
                "reinvocationPolicy": "IfNeeded",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
