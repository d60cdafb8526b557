"""Two replicas on one Lease: only the holder writes; when it dies the other takes over."""

import datetime
import time

import pytest

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import LEASE_DURATION, Installation, copy_writes
from tests.e2e.scope.sources import PROJECT, apply_registry_secret, get_secret, wait_copies
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, create_namespace, unique
from tests.kit.metrics import metric

REGISTRY = "leader.registry.example"


def _lease_time(value: str) -> float:
    """A Lease's MicroTime as a Unix timestamp."""
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_only_the_leader_writes_and_the_other_takes_over(
    kubectl: Kubectl,
    pullpass: Pullpass,
    installation: Installation,
    passwords: Passwords,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = installation.credentials_namespace
    first = installation.baseline_identity
    second = installation.start("pullpass-b")
    assert installation.holder() == first
    assert metric(second.metrics_text(), "pullpass_leader") == 0.0
    assert metric(pullpass.metrics_text(), "pullpass_leader") == 1.0

    project = unique("ha")
    namespaces = {create_namespace(kubectl, unique("ha"), labels={PROJECT: project}) for _ in "ab"}
    name = unique("ha-reg")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    wait_copies(kubectl, home, name, namespaces)
    written = copy_writes(pullpass.logs())
    assert {f"{ns}/{name}" for ns in namespaces} <= set(written), written
    assert copy_writes(second.logs()) == [], "the follower wrote copies"
    assert installation.holder() == first

    # The leader dies; in the gap before the Lease expires the source rotates and a namespace
    # joins the project. Nobody writes until the follower takes over, then it catches up.
    installation.kill(first)
    killed = time.time()
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    late = create_namespace(kubectl, unique("ha-late"), labels={PROJECT: project})
    source = get_secret(kubectl, home, name)
    assert source is not None
    lease = installation.lease()
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == first
    last_renew = _lease_time(lease["spec"]["renewTime"])

    eventually(lambda: installation.holder() == "pullpass-b", 3 * LEASE_DURATION, "a takeover")
    lease = installation.lease()
    assert lease is not None
    acquired = _lease_time(lease["spec"]["acquireTime"])
    wait_copies(kubectl, home, name, {*namespaces, late}, timeout=3 * LEASE_DURATION)
    caught_up = time.time()
    takeover_after_renew = acquired - last_renew
    takeover_after_kill = acquired - killed
    with capsys.disabled():  # the measured figure shows in every run, captured or not
        print(
            f"\nleader failover (lease {LEASE_DURATION}s): Lease taken "
            f"{takeover_after_renew:.2f}s after the dead leader's last renewal, "
            f"{takeover_after_kill:.2f}s after the kill; copies current "
            f"{caught_up - killed:.2f}s after the kill"
        )
    assert metric(second.metrics_text(), "pullpass_leader") == 1.0
    # The elector retries every max(1, lease/5) seconds: a takeover lands one retry past expiry.
    assert takeover_after_renew <= LEASE_DURATION + 1.5, takeover_after_renew
    taken_over = copy_writes(second.logs())
    assert f"{late}/{name}" in taken_over
    assert {f"{ns}/{name}" for ns in namespaces} <= set(taken_over)
