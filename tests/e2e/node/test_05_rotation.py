"""Rotation: the registry's password changes (htpasswd), the admin updates the source
credential, and the next pod pulls with the new password through the copy pullpass updated."""

import base64
import json
import secrets
from collections.abc import Callable
from pathlib import Path

from localcluster.kubectl import Kubectl
from localcluster.release import NAMESPACE, Release
from tests.e2e.node.actions import (
    PULLED,
    REFUSED,
    UNAUTHORIZED,
    busybox_pod,
    create_registry_secret,
    events,
    wait_pull_failure,
    wait_running,
    wait_serving,
    write_manifest,
)
from tests.e2e.node.fixtures import Namespaces, registry_prefix
from tests.kit.eventually import eventually
from tests.kit.kubectl import pull_secrets


def password_in(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    done = kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if done.returncode != 0:
        return None
    config = json.loads(base64.b64decode(json.loads(done.stdout)["data"][".dockerconfigjson"]))
    (entry,) = config["auths"].values()
    password: str = entry["password"]
    return password


def apply_pod(kubectl: Kubectl, directory: Path, namespace: str, name: str, image: str) -> None:
    manifest = write_manifest(directory, f"{name}.yml", busybox_pod(namespace, name, image))
    kubectl("apply", "-f", str(manifest))


def test_new_password_reaches_new_pods(
    pullpass: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    registry = pullpass.node.registry
    namespace = namespaces.create("rotation")
    # Three tags never pulled before, in one repository that the credential's key serves.
    first = fresh_image("rotation")
    refused, second = (registry.copy(first, first.replace(":1", f":{t}")) for t in (2, 3))
    server = registry_prefix(first)
    user, old = registry_user()
    source = f"rotating-{namespace}"
    create_registry_secret(kubectl, NAMESPACE, source, server, user, old, update=True)
    kubectl("label", "secret", source, "-n", NAMESPACE, "pullpass.io/scope=cluster")
    try:
        wait_serving(kubectl, namespace, first, source)
        apply_pod(kubectl, tmp_path, namespace, "a", first)
        wait_running(kubectl, namespace, "a")

        new = secrets.token_urlsafe(18)
        registry.set_password(user, new)
        assert registry.manifest_status(second, user, old) == 401
        assert registry.manifest_status(second, user, new) == 200
        # Before the source is updated, a new pod still gets the old password and is refused.
        apply_pod(kubectl, tmp_path, namespace, "b", refused)
        _, seen = wait_pull_failure(kubectl, namespace, "b")
        assert any(refused in e and (UNAUTHORIZED in e or REFUSED in e) for e in seen), seen

        create_registry_secret(kubectl, NAMESPACE, source, server, user, new, update=True)
        eventually(
            lambda: password_in(kubectl, namespace, source) == new, 30, "the copy to be updated"
        )
        apply_pod(kubectl, tmp_path, namespace, "c", second)

        pod = wait_running(kubectl, namespace, "c")
        assert pull_secrets(pod) == [source]
        assert any(f'{PULLED} "{second}"' in e for e in events(kubectl, namespace, "c"))
    finally:
        kubectl("delete", "secret", source, "-n", NAMESPACE, "--wait=false", check=False)
