"""`pullpass serve --admission=policy`: the leader keeps the parameters current, nothing else.

No HTTPS port and no certificate is given. Each credential change must reach the parameter
objects within 2 s, and dry-run pods soon after (both measured and printed); a restarted leader
writes nothing when nothing changed; with pullpass stopped, the API server goes on injecting
from the last parameters.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from app.core.policy.manifests import GROUP, PLURAL, SHARED_OBJECT, VERSION
from app.shell.cluster.client import api_client
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.policy.fixtures import (
    CREDENTIALS_NAMESPACE,
    Object,
    PolicyCluster,
    namespace,
    secret,
)
from tests.kit.eventually import eventually
from tests.kit.objects import pod

FOLLOW_SECONDS = 2.0


@pytest.fixture(scope="module")
def leader(
    policy_mode: PolicyCluster, kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pullpass]:
    server = Pullpass(
        kubeconfig,
        tmp_path_factory.mktemp("pullpass-policy"),
        credentials_namespace=CREDENTIALS_NAMESPACE,
        admission="policy",
        extra_args=("--lease-duration=3",),
    )
    server.start()
    try:
        eventually(lambda: "parameter pass" in server.logs(), 30, "the leader's first pass")
        yield server
    finally:
        server.stop()


class Parameters:
    """The parameter objects, read with the API client: cheap enough to poll every 20 ms."""

    def __init__(self, kubeconfig: Path) -> None:
        self.api = client.CustomObjectsApi(api_client(str(kubeconfig)))

    def __call__(self) -> dict[tuple[str, str], Object]:
        listed = self.api.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in listed}

    def names(self, where: tuple[str, str]) -> list[str]:
        found = self().get(where)
        if found is None:
            return []
        spec = found["spec"]
        lists = [spec["credentials"], spec["cluster"], *spec["projects"].values()]
        return [entry["name"] for entries in lists for entry in entries]

    def held(self, namespace: str) -> Object:
        """A covered namespace's resolution as the shared object holds it ({} when it holds
        none)."""
        shared = self().get((CREDENTIALS_NAMESPACE, SHARED_OBJECT))
        return shared["spec"]["held"].get(namespace, {}) if shared else {}


class Secrets:
    """Secret writes with the API client, so a measured change carries no kubectl start-up."""

    def __init__(self, kubeconfig: Path) -> None:
        self.core = client.CoreV1Api(api_client(str(kubeconfig)))

    def put(self, obj: Object) -> None:
        meta = obj["metadata"]
        try:
            self.core.create_namespaced_secret(meta["namespace"], obj)
        except client.ApiException as error:
            if error.status != 409:
                raise
            current = self.core.read_namespaced_secret(meta["name"], meta["namespace"])
            version = {"resourceVersion": current.metadata.resource_version}
            body = {**obj, "metadata": {**meta, **version}}
            self.core.replace_namespaced_secret(meta["name"], meta["namespace"], body)

    def delete(self, namespace: str, name: str) -> None:
        self.core.delete_namespaced_secret(name, namespace)


def follow(
    change: Callable[[], object],
    parameters_follow: Callable[[], bool],
    pods_follow: Callable[[], bool],
    what: str,
) -> None:
    """The parameters must follow within FOLLOW_SECONDS of the change; dry-run pods
    (through the API server's informer, polled with kubectl) soon after. Both printed."""
    start = time.monotonic()
    change()
    eventually(parameters_follow, FOLLOW_SECONDS, f"parameters: {what}", every=0.02)
    in_parameters = time.monotonic() - start
    eventually(pods_follow, 10, f"pods: {what}", every=0.05)
    print(f"{what}: parameters {in_parameters:.2f} s, pods {time.monotonic() - start:.2f} s")


def test_parameters_follow_credential_changes(
    leader: Pullpass, policy_mode: PolicyCluster, kubeconfig: Path
) -> None:
    ns = "pm-live"
    policy_mode.apply([namespace(ns)])
    quay = pod(ns, "quay.io/team/app:1", name="p")
    ghcr = pod(ns, "ghcr.io/team/app:1", name="p")
    parameters = Parameters(kubeconfig)
    secrets = Secrets(kubeconfig)

    def names() -> list[str]:
        return [entry["name"] for entry in parameters.held(ns).get("credentials", [])]

    def hosts() -> list[str]:
        index = parameters.held(ns).get("credentialsIndex")
        if not index:
            return []
        return [k["host"] for keys in [*index["exact"].values(), index["globs"]] for k in keys]

    follow(
        lambda: secrets.put(secret(ns, "live", "quay.io")),
        lambda: names() == ["live"],
        lambda: policy_mode.secrets_of(quay) == ["live"],
        "new namespace credential",
    )
    follow(
        lambda: secrets.put(secret(ns, "live", "ghcr.io")),
        lambda: hosts() == ["^ghcr\\.io$"],
        lambda: policy_mode.secrets_of(ghcr) == ["live"] and policy_mode.secrets_of(quay) == [],
        "rotated registry key",
    )
    cluster = secret(
        CREDENTIALS_NAMESPACE, "everyone", "ghcr.io", labels={"pullpass.io/scope": "cluster"}
    )
    shared = (CREDENTIALS_NAMESPACE, SHARED_OBJECT)
    follow(
        lambda: secrets.put(cluster),
        lambda: "everyone" in parameters.names(shared) and "everyone" in names(),
        lambda: policy_mode.secrets_of(ghcr) == ["live", "everyone"],
        "new cluster source, after the namespace's own",
    )
    follow(
        lambda: secrets.delete(ns, "live"),
        lambda: not parameters.held(ns),
        lambda: policy_mode.secrets_of(ghcr) == ["everyone"],
        "deleted credential, no longer held",
    )
    # Its resolution was held in the shared object all along: no object of its own.
    assert (ns, "pullpass") not in parameters()
    fresh = "pm-live-fresh"
    policy_mode.apply([namespace(fresh)])
    assert policy_mode.secrets_of(pod(fresh, "ghcr.io/x:1", name="p")) == ["everyone"]
    assert (fresh, "pullpass") not in parameters()


def test_restarted_leader_writes_nothing_that_changes_nothing(
    leader: Pullpass, kubectl: Kubectl, kubeconfig: Path
) -> None:
    parameters = Parameters(kubeconfig)
    time.sleep(1)  # the previous test's last pass lands
    before = {k: o["metadata"]["resourceVersion"] for k, o in parameters().items()}
    leader.stop()
    passes = leader.logs().count("parameter pass")
    leader.start()
    eventually(
        lambda: leader.logs().count("parameter pass") > passes, 30, "the new leader's first pass"
    )
    kubectl("label", "namespace", "pm-live", "unrelated=yes")
    time.sleep(1)
    after = {k: o["metadata"]["resourceVersion"] for k, o in parameters().items()}
    assert after == before
    assert "pullpass_parameter_writes_total{" not in leader.metrics_text()


def test_policy_mode_injects_with_pullpass_stopped(
    leader: Pullpass, policy_mode: PolicyCluster
) -> None:
    leader.stop()
    try:
        assert not leader.running()
        assert policy_mode.secrets_of(pod("pm-live", "ghcr.io/x:1", name="p")) == ["everyone"]
        brand_new = "pm-after-stop"
        policy_mode.apply([namespace(brand_new)])
        assert policy_mode.secrets_of(pod(brand_new, "ghcr.io/x:1", name="p")) == ["everyone"]
    finally:
        leader.start()
