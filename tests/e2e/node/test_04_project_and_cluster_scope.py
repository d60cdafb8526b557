"""Project and cluster scope on a real node: a source credential in pullpass's namespace, a pod
in another namespace of the project (or any enabled namespace, for a cluster source), and the
kubelet pulling with the copy pullpass wrote there."""

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster.kubectl import Kubectl
from localcluster.release import NAMESPACE, Release
from tests.e2e.node.actions import (
    PULLED,
    busybox_pod,
    create_registry_secret,
    events,
    wait_running,
    wait_serving,
    write_manifest,
)
from tests.e2e.node.fixtures import Namespaces, registry_prefix
from tests.kit.eventually import eventually
from tests.kit.kubectl import pull_secrets

PROJECT_LABEL = "pullpass.io/project"


@pytest.fixture
def sources(kubectl: Kubectl) -> Iterator[list[str]]:
    """Source Secrets a test makes in the credentials namespace, deleted after it."""
    made: list[str] = []
    yield made
    for name in made:
        kubectl("delete", "secret", name, "-n", NAMESPACE, "--wait=false", check=False)


def make_source(
    kubectl: Kubectl, sources: list[str], name: str, label: str, server: str, user: str, pw: str
) -> None:
    create_registry_secret(kubectl, NAMESPACE, name, server, user, pw)
    kubectl("label", "secret", name, "-n", NAMESPACE, label)
    sources.append(name)


def the_copy(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any] | None:
    done = kubectl("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if done.returncode != 0:
        return None
    secret: dict[str, Any] = json.loads(done.stdout)
    return secret


def run_and_check(
    kubectl: Kubectl, namespace: str, image: str, source: str, tmp_path: Path
) -> None:
    copy = eventually(
        lambda: the_copy(kubectl, namespace, source), 30, f"pullpass's copy of {source}"
    )
    metadata = copy["metadata"]
    assert metadata["labels"]["pullpass.io/managed-by"] == "pullpass"
    assert metadata["annotations"]["pullpass.io/source"] == f"{NAMESPACE}/{source}"
    wait_serving(kubectl, namespace, image, source)
    pod_yml = write_manifest(tmp_path, "pod.yml", busybox_pod(namespace, "app", image))
    kubectl("apply", "-f", str(pod_yml))
    pod = wait_running(kubectl, namespace, "app")
    assert pull_secrets(pod) == [source]
    assert any(f'{PULLED} "{image}"' in e for e in events(kubectl, namespace, "app"))


def test_project_pod_pulls_with_the_copy_pullpass_wrote(
    pullpass: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
    sources: list[str],
    tmp_path: Path,
) -> None:
    project = f"p{uuid.uuid4().hex[:6]}"
    labels = {PROJECT_LABEL: project}
    namespaces.create("proj-api", labels=labels)
    jobs = namespaces.create("proj-jobs", labels=labels)
    image = fresh_image("project")
    user, password = registry_user()
    make_source(
        kubectl, sources, f"registry-{project}", f"{PROJECT_LABEL}={project}",
        registry_prefix(image), user, password,
    )  # fmt: skip

    run_and_check(kubectl, jobs, image, f"registry-{project}", tmp_path)


def test_cluster_credential_serves_every_enabled_namespace(
    pullpass: Release,
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
    sources: list[str],
    tmp_path: Path,
) -> None:
    anywhere = namespaces.create("anywhere")
    image = fresh_image("cluster")
    user, password = registry_user()
    source = f"cluster-{anywhere}"
    make_source(
        kubectl, sources, source, "pullpass.io/scope=cluster", registry_prefix(image), user,
        password,
    )  # fmt: skip

    run_and_check(kubectl, anywhere, image, source, tmp_path)
