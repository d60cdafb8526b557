"""One-shot reads of the cluster for the commands: paginated lists, never a per-object call.

`explain` needs Namespaces, registry credentials and ServiceAccounts; `audit` also streams Pods
and workloads, page by page, so a cluster with 100,000 Pods costs 100 requests and one page of
memory.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kubernetes import client

from app.core.credentials.credential import (
    CREDENTIAL_TYPES,
    Credential,
    credential_from_secret,
    namespace_from_object,
)
from app.core.credentials.dockercfg import BadDockerConfig
from app.core.credentials.serviceaccount import service_account_from_object
from app.shell.cluster.client import call_json
from app.shell.cluster.objects import Snapshot

PAGE = 500
CLUSTER = "cluster"


def paginate(call: Callable[..., Any], *args: Any, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a list, following `continue` tokens."""
    token: str | None = None
    while True:
        page = call_json(call, *args, limit=PAGE, _continue=token, **params)
        yield from page.get("items") or ()
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def read_scope(api: client.ApiClient) -> Snapshot:
    """Namespaces, registry credentials and ServiceAccounts; unreadable credentials are passed
    over."""
    core = client.CoreV1Api(api)
    namespaces = [namespace_from_object(o) for o in paginate(core.list_namespace)]
    accounts = [
        service_account_from_object(o)
        for o in paginate(core.list_service_account_for_all_namespaces)
    ]
    credentials: list[Credential] = []
    for secret_type in CREDENTIAL_TYPES:
        for obj in paginate(
            core.list_secret_for_all_namespaces, field_selector=f"type={secret_type}"
        ):
            try:
                credential = credential_from_secret(obj)
            except BadDockerConfig:
                continue
            if credential is not None:
                credentials.append(credential)
    return Snapshot(namespaces, credentials, accounts)


def audited_objects(
    api: client.ApiClient, namespaces: list[str] | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Pods and workloads, in the named namespaces or all of them, each with its `kind` set.

    List items carry no `kind`, so it is put back from the list that returned them.
    """
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    lists: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
        ("Pod", core.list_namespaced_pod, core.list_pod_for_all_namespaces),
        ("Deployment", apps.list_namespaced_deployment, apps.list_deployment_for_all_namespaces),
        (
            "StatefulSet",
            apps.list_namespaced_stateful_set,
            apps.list_stateful_set_for_all_namespaces,
        ),
        ("DaemonSet", apps.list_namespaced_daemon_set, apps.list_daemon_set_for_all_namespaces),
        ("ReplicaSet", apps.list_namespaced_replica_set, apps.list_replica_set_for_all_namespaces),
        (
            "ReplicationController",
            core.list_namespaced_replication_controller,
            core.list_replication_controller_for_all_namespaces,
        ),
        ("Job", batch.list_namespaced_job, batch.list_job_for_all_namespaces),
        ("CronJob", batch.list_namespaced_cron_job, batch.list_cron_job_for_all_namespaces),
    ]
    for kind, namespaced, everywhere in lists:
        pages: Iterable[dict[str, Any]]
        if namespaces is None:
            pages = paginate(everywhere)
        else:
            pages = (item for ns in namespaces for item in paginate(namespaced, ns))
        for item in pages:
            item["kind"] = kind
            yield CLUSTER, item
