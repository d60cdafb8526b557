"""Session fixtures of the node suite: one real node for the whole session, pullpass installed
on it with helm, and per-test namespaces, registry users and freshly tagged images.

Nothing skips. Not root, a missing package, a failed build or a node that does not come up fail
every test with the reason (the build scripts' tail, the component's log tail). The builds run
before any test (`prebuild`, called from tests/conftest.py), so a first build eats no timeout.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from localcluster.build import once
from localcluster.errors import ClusterError
from localcluster.kubectl import Kubectl
from localcluster.node import BUSYBOX, Node
from localcluster.release import REGISTRY_USER, Release, install
from tests.e2e.node.actions import create_registry_secret
from tests.kit.kubectl import create_namespace

# Measurements for the terminal summary (tests/conftest.py prints them after the run).
MEASURED: list[str] = []


def report(text: str) -> None:
    MEASURED.append(text)


# Install and build what the node needs, once per session; a failure is kept and raised.
binaries = once(Node.build)


def prebuild(session: pytest.Session) -> None:
    """Build before any `node` test runs; the failure, if any, fails each test that needs it."""
    if any(item.get_closest_marker("node") for item in session.items):
        with contextlib.suppress(ClusterError):
            binaries()


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The one-node cluster, shared by the whole suite; its teardown must leave nothing."""
    cluster = Node(
        tmp_path_factory.mktemp("node"),
        binaries(),
        registry_users={REGISTRY_USER: secrets.token_urlsafe(18)},
    )
    cluster.start()
    report(f"node Ready {cluster.ready_after:.1f}s after start; steps (s): {cluster.timings}")
    try:
        yield cluster
    finally:
        problems = cluster.stop()
        teardown = {k: v for k, v in cluster.timings.items() if k.startswith("teardown")}
        report(f"node teardown {sum(teardown.values()):.1f}s; steps (s): {teardown}")
        if problems:
            raise ClusterError("the node's teardown left things behind:\n" + "\n".join(problems))


@pytest.fixture(scope="session")
def kubectl(node: Node) -> Kubectl:
    """kubectl as the cluster admin, inside the node's network namespace."""
    return node.kubectl


@pytest.fixture(scope="session")
def release(node: Node) -> Release:
    """pullpass from its chart: `helm install`, image and pull secret from the private registry."""
    began = time.monotonic()
    installed = install(node)
    report(
        f"pullpass: helm install to both replicas Ready and called: {time.monotonic() - began:.1f}s"
    )
    return installed


@pytest.fixture
def pullpass(release: Release) -> Release:
    """The release, both replicas Ready and called by the API server, whatever the last test did
    to it (scaled it down, deleted a pod)."""
    release.scale(2)
    release.wait_ready(2)
    return release


class Namespaces:
    """Namespaces a test makes (unique names), deleted after it without waiting."""

    def __init__(self, kubectl: Kubectl) -> None:
        self.kubectl = kubectl
        self.made: list[str] = []

    def create(
        self, prefix: str, *, enabled: bool = True, labels: dict[str, str] | None = None
    ) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        create_namespace(self.kubectl, name, enabled=enabled, labels=labels)
        self.made.append(name)
        return name

    def delete_all(self) -> None:
        for name in self.made:
            self.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespaces(kubectl: Kubectl) -> Iterator[Namespaces]:
    made = Namespaces(kubectl)
    try:
        yield made
    finally:
        made.delete_all()


@pytest.fixture
def registry_user(node: Node) -> Callable[[], tuple[str, str]]:
    """A new registry account (user, password) each call, as a registry admin adds one."""

    def new() -> tuple[str, str]:
        user = f"u{uuid.uuid4().hex[:8]}"
        password = secrets.token_urlsafe(18)
        node.registry.set_password(user, password)
        return user, password

    return new


@pytest.fixture
def fresh_image(node: Node) -> Callable[[str], str]:
    """`fresh_image("docs")` is 127.0.0.1:5000/docs-XXXX/busybox:1, never pulled before: the
    kubelet must pull it, so the pull's outcome (and its event) is this test's."""

    def new(prefix: str) -> str:
        image = f"{node.registry.host}/{prefix}-{uuid.uuid4().hex[:6]}/busybox:1"
        return node.registry.copy(BUSYBOX, image)

    return new


@pytest.fixture
def namespace_with_credential(
    kubectl: Kubectl,
    namespaces: Namespaces,
    registry_user: Callable[[], tuple[str, str]],
    fresh_image: Callable[[str], str],
) -> Callable[[str], tuple[str, str]]:
    """`namespace, image = namespace_with_credential("deploy")`: a new enabled namespace and a
    fresh image, with a registry credential `registry` for the image's prefix (a new account) in
    that namespace, as a user sets one up. pullpass learns of it a moment later (`wait_serving`)."""

    def new(prefix: str) -> tuple[str, str]:
        namespace = namespaces.create(prefix)
        image = fresh_image(prefix)
        user, password = registry_user()
        server = registry_prefix(image)
        create_registry_secret(kubectl, namespace, "registry", server, user, password)
        return namespace, image

    return new


def registry_prefix(image: str) -> str:
    """`127.0.0.1:5000/docs-1234` for `127.0.0.1:5000/docs-1234/busybox:1`: a registry key that
    serves that test's images only (a key's path is a prefix of the image's path)."""
    return image.rsplit("/", 1)[0]
