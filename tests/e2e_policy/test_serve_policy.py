"""`pullpass serve --admission=policy`: the leader keeps the parameters current, nothing else.

No HTTPS port and no certificate is given. Each credential change must reach the parameter
objects, and a dry-run pod, within 2 s (measured and printed); a restarted leader writes
nothing when nothing changed; with pullpass stopped, the API server goes on injecting from the
last parameters.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e.actions import eventually

from e2e_policy.fixtures import (
    CREDENTIALS_NAMESPACE,
    Object,
    PolicyCluster,
    namespace,
    pod,
    secret,
)
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass

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


def parameters(kubectl: Kubectl) -> dict[tuple[str, str], Object]:
    listed = kubectl.json("get", "pullpassrules.pullpass.io", "-A")["items"]
    return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in listed}


def entry_names(spec: Object) -> list[str]:
    lists = [spec["credentials"], spec["cluster"], *spec["projects"].values()]
    return [entry["name"] for entries in lists for entry in entries]


def timed(change: Callable[[], object], check: Callable[[], bool], what: str) -> float:
    """Seconds from the change's return until `check` holds, bounded by FOLLOW_SECONDS."""
    change()
    start = time.monotonic()
    eventually(check, FOLLOW_SECONDS, what, every=0.05)
    elapsed = time.monotonic() - start
    print(f"{what}: {elapsed:.2f} s")
    return elapsed


def test_parameters_follow_credential_changes(
    leader: Pullpass, policy_mode: PolicyCluster, kubectl: Kubectl
) -> None:
    ns = "pm-live"
    policy_mode.apply([namespace(ns)])
    quay = pod(ns, "p", "quay.io/team/app:1")
    ghcr = pod(ns, "p", "ghcr.io/team/app:1")
    own = (ns, "pullpass")

    def spec_names(where: tuple[str, str]) -> list[str]:
        found = parameters(kubectl).get(where)
        return entry_names(found["spec"]) if found else []

    timed(
        lambda: policy_mode.apply([secret(ns, "live", "quay.io")]),
        lambda: "live" in spec_names(own) and policy_mode.secrets_of(quay) == ["live"],
        "new namespace credential in its parameters and injected",
    )
    timed(
        lambda: policy_mode.apply([secret(ns, "live", "ghcr.io")]),
        lambda: policy_mode.secrets_of(ghcr) == ["live"] and policy_mode.secrets_of(quay) == [],
        "rotated registry key injected",
    )
    cluster = secret(
        CREDENTIALS_NAMESPACE, "everyone", "ghcr.io", labels={"pullpass.io/scope": "cluster"}
    )
    timed(
        lambda: policy_mode.apply([cluster]),
        lambda: policy_mode.secrets_of(ghcr) == ["live", "everyone"],
        "cluster source injected after the namespace's own",
    )
    timed(
        lambda: kubectl("delete", "secret", "live", "-n", ns),
        lambda: own not in parameters(kubectl) and policy_mode.secrets_of(ghcr) == ["everyone"],
        "deleted credential gone, namespace object deleted",
    )
    fresh = "pm-live-fresh"
    policy_mode.apply([namespace(fresh)])
    assert policy_mode.secrets_of(pod(fresh, "p", "ghcr.io/x:1")) == ["everyone"]
    assert (fresh, "pullpass") not in parameters(kubectl)
    assert "everyone" in spec_names((CREDENTIALS_NAMESPACE, "pullpass-shared"))


def test_restarted_leader_writes_nothing_that_changes_nothing(
    leader: Pullpass, kubectl: Kubectl
) -> None:
    time.sleep(1)  # the previous test's last pass lands
    before = {k: o["metadata"]["resourceVersion"] for k, o in parameters(kubectl).items()}
    leader.stop()
    passes = leader.logs().count("parameter pass")
    leader.start()
    eventually(
        lambda: leader.logs().count("parameter pass") > passes, 30, "the new leader's first pass"
    )
    kubectl("label", "namespace", "pm-live", "unrelated=yes")
    time.sleep(1)
    after = {k: o["metadata"]["resourceVersion"] for k, o in parameters(kubectl).items()}
    assert after == before
    assert "pullpass_parameter_writes_total{" not in leader.metrics_text()


def test_policy_mode_injects_with_pullpass_stopped(
    leader: Pullpass, policy_mode: PolicyCluster
) -> None:
    leader.stop()
    try:
        assert not leader.running()
        assert policy_mode.secrets_of(pod("pm-live", "p", "ghcr.io/x:1")) == ["everyone"]
        brand_new = "pm-after-stop"
        policy_mode.apply([namespace(brand_new)])
        assert policy_mode.secrets_of(pod(brand_new, "p", "ghcr.io/x:1")) == ["everyone"]
    finally:
        leader.start()
