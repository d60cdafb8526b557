"""Self-contained kubeconfig files, one identity each."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

import yaml

from localcluster.certificates import KeyPair, issue


def client_certificate(pair: KeyPair) -> dict[str, str]:
    """The kubeconfig `user` entry for a client certificate, embedded."""
    return {
        "client-certificate-data": base64.b64encode(pair.cert_pem).decode(),
        "client-key-data": base64.b64encode(pair.key_pem).decode(),
    }


def write_kubeconfig(
    path: Path,
    server: str,
    ca_pem: bytes,
    credentials: dict[str, str],
    user: str,
    namespace: str = "default",
) -> Path:
    """A self-contained kubeconfig (CA embedded) for one identity: a client cert or a token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "pullpass-e2e",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {
                "name": "pullpass-e2e",
                "context": {"cluster": "pullpass-e2e", "user": user, "namespace": namespace},
            }
        ],
        "current-context": "pullpass-e2e",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def write_client_kubeconfig(
    path: Path,
    server: str,
    ca: KeyPair,
    user: str,
    groups: Sequence[str] = (),
    namespace: str = "default",
) -> Path:
    """A kubeconfig with a new client certificate from `ca`: CN `user`, O `groups`."""
    pair = issue(ca, user, organizations=groups, client=True)
    return write_kubeconfig(path, server, ca.cert_pem, client_certificate(pair), user, namespace)
