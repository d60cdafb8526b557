"""Registry credentials as a cluster admin or tenant handles them, and the copies pullpass makes."""

from __future__ import annotations

import json
from typing import Any

from localcluster.kubectl import Kubectl
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, docker_registry_args

MANAGED_BY = "pullpass.io/managed-by"
SOURCE = "pullpass.io/source"
SOURCE_VERSION = "pullpass.io/source-version"
PROJECT = "pullpass.io/project"
SCOPE = "pullpass.io/scope"
RANCHER_PROJECT = "field.cattle.io/projectId"
INJECTED = "pullpass.io/injected"


def apply_registry_secret(
    kubectl: Kubectl,
    passwords: Passwords,
    namespace: str,
    name: str,
    server: str,
    labels: dict[str, str] | None = None,
    *,
    user: str = "e2e-user",
) -> str:
    """`kubectl create secret docker-registry --dry-run=client -o json | kubectl apply -f -`.

    The usual way to create a labelled credential and, run again, to rotate it in place.
    Returns the new password.
    """
    args, password = docker_registry_args(passwords, namespace, name, server, user)
    secret = json.loads(kubectl(*args, "--dry-run=client", "-o", "json").stdout)
    secret["metadata"]["labels"] = dict(labels or {})
    kubectl.apply(secret)
    return password


def get_secret(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any] | None:
    done = kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if done.returncode != 0:
        assert "NotFound" in done.stderr, done.stderr
        return None
    secret: dict[str, Any] = json.loads(done.stdout)
    return secret


def copies(kubectl: Kubectl, name: str) -> dict[str, dict[str, Any]]:
    """Every Secret named `name` that carries pullpass's managed-by label, by namespace."""
    found = kubectl.json(
        "get",
        "secrets",
        "--all-namespaces",
        "--field-selector",
        f"metadata.name={name}",
        "-l",
        f"{MANAGED_BY}=pullpass",
    )
    return {s["metadata"]["namespace"]: s for s in found["items"]}


def copy_problems(copy: dict[str, Any], source: dict[str, Any]) -> list[str]:
    """How a copy differs from what a copy of `source` must be (empty: a good copy)."""
    meta, source_meta = copy["metadata"], source["metadata"]
    where = f"{meta['namespace']}/{meta['name']}"
    problems = []
    if meta["name"] != source_meta["name"]:
        problems.append(f"{where}: name is not the source's")
    if copy["type"] != source["type"]:
        problems.append(f"{where}: type {copy['type']} != {source['type']}")
    if copy.get("data") != source.get("data"):
        problems.append(f"{where}: data differs from the source's")
    if (meta.get("labels") or {}).get(MANAGED_BY) != "pullpass":
        problems.append(f"{where}: no managed-by label")
    annotations = meta.get("annotations") or {}
    ref = f"{source_meta['namespace']}/{source_meta['name']}"
    if annotations.get(SOURCE) != ref:
        problems.append(f"{where}: source annotation {annotations.get(SOURCE)!r} != {ref!r}")
    if annotations.get(SOURCE_VERSION) != source_meta["resourceVersion"]:
        problems.append(
            f"{where}: source-version {annotations.get(SOURCE_VERSION)!r} "
            f"!= {source_meta['resourceVersion']!r}"
        )
    return problems


def wait_copies(
    kubectl: Kubectl,
    source_namespace: str,
    name: str,
    namespaces: set[str],
    timeout: float = 15,
) -> dict[str, dict[str, Any]]:
    """Until exactly `namespaces` hold a copy of the source, each equal to its current state."""
    last: list[str] = []

    def settled() -> dict[str, dict[str, Any]] | None:
        source = get_secret(kubectl, source_namespace, name)
        found = copies(kubectl, name)
        last[:] = []
        if source is None:
            last.append("the source is gone")
            return None
        if set(found) != namespaces:
            last.append(
                f"copies in {sorted(found)}; missing {sorted(namespaces - set(found))}, "
                f"unexpected {sorted(set(found) - namespaces)}"
            )
        for copy in found.values():
            last.extend(copy_problems(copy, source))
        return None if last else found

    try:
        return eventually(settled, timeout, f"copies of {name} in {sorted(namespaces)}", every=0.3)
    except AssertionError as error:
        raise AssertionError(f"{error}\nproblems: {last}") from None


def wait_no_copies(kubectl: Kubectl, name: str, namespaces: set[str], timeout: float = 15) -> None:
    """Until none of `namespaces` holds a copy named `name`."""
    eventually(
        lambda: not (set(copies(kubectl, name)) & namespaces),
        timeout,
        f"copies of {name} to leave {sorted(namespaces)}",
        every=0.3,
    )


def events(kubectl: Kubectl, namespace: str, reason: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = kubectl.json("get", "events", "-n", namespace)["items"]
    return [e for e in found if e.get("reason") == reason]


def conflict_events(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    """The CredentialConflict Events in `namespace` that name the Secret `name`."""
    return [e for e in events(kubectl, namespace, "CredentialConflict") if name in e["message"]]
