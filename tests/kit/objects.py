"""Builders for the objects the suites send and apply: namespaces, credentials, pods, reviews."""

import base64
import json
import uuid
from collections.abc import Iterable
from typing import Any


def case_id(text: str) -> str:
    """A test id for a table case: printable ASCII, anything else as U+XXXX.

    pytest escapes the text an `ids=` callable returns once per session; a process that runs a
    second session (mutmut's workers) escapes it again, asks for node ids that no longer exist,
    and counts the error as a kill. Text needing no escape is the same in every session.
    """
    return "".join(
        c if c.isascii() and c.isprintable() and c != "\\" else f"U+{ord(c):04X}" for c in text
    )


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
    name: str = "p",
    init: tuple[str, ...] = (),
    pull_secrets: Iterable[str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    service_account: str | None = None,
    owner: dict[str, Any] | None = None,
    waiting: dict[str, str] | None = None,
    uid: str | None = None,
) -> dict[str, Any]:
    """A Pod manifest, container `c<i>` for each image. `waiting`: container name -> the reason
    its status shows, for code that reads stuck pods."""
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    }
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": image} for i, image in enumerate(init)]
    if pull_secrets is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    if service_account is not None:
        spec["serviceAccountName"] = service_account
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if annotations is not None:
        metadata["annotations"] = annotations
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    if uid is not None:
        metadata["uid"] = uid
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
    }
    if waiting is not None:
        manifest["status"] = {
            "containerStatuses": [
                {"name": c, "image": "ignored", "state": {"waiting": {"reason": r}}}
                for c, r in waiting.items()
            ]
        }
    return manifest


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
