"""Reaching the cluster: an API client from kubeconfig or the in-cluster service account."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from kubernetes import client, config

from app.shell.cluster.errors import ClusterConfigError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def api_client(kubeconfig: str | None, context: str | None = None) -> client.ApiClient:
    """Explicit kubeconfig, then KUBECONFIG or ~/.kube/config, then the in-cluster account.

    A `context` (kubectl's `--context`) always means a kubeconfig.
    """
    configuration = client.Configuration()
    try:
        if kubeconfig or context or not (SERVICE_ACCOUNT / "token").exists():
            config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        else:
            config.load_incluster_config(client_configuration=configuration)
    except (config.ConfigException, OSError, ValueError, TypeError) as error:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ClusterConfigError(
            f"pullpass: cannot load cluster configuration from {where}: {message}"
        ) from None
    return client.ApiClient(configuration)


def own_namespace(kubeconfig: str | None, context: str | None = None) -> str:
    """The namespace pullpass runs in: the Pod's, else the kubeconfig context's, else default."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    path = SERVICE_ACCOUNT / "namespace"
    if not (kubeconfig or context) and path.exists():
        return path.read_text().strip()
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, OSError, ValueError, TypeError):
        return "default"
    if context is not None:
        current = next((c for c in contexts or () if c.get("name") == context), None)
    return str((current or {}).get("context", {}).get("namespace") or "default")


def call_json(call: Callable[..., Any], *args: Any, **params: Any) -> dict[str, Any]:
    """One API call answered as raw JSON: no model object is built per item."""
    answer: dict[str, Any] = orjson.loads(call(*args, _preload_content=False, **params).data)
    return answer
