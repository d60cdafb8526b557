"""200 namespaces of one project all hold the copy within 10 seconds of the source's creation."""

import time

import pytest

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation
from tests.e2e.scope.sources import PROJECT, apply_registry_secret, copies, get_secret, wait_copies
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, unique
from tests.kit.metrics import metric

COUNT = 200
DEADLINE = 10.0
REGISTRY = "scale.registry.example"


def test_two_hundred_namespaces_get_the_copy_within_ten_seconds(
    kubectl: Kubectl,
    pullpass: Pullpass,
    installation: Installation,
    passwords: Passwords,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = installation.credentials_namespace
    project = unique("scale")
    group = f"e2e-scale={project}"
    names = {f"{project}-{i:03d}" for i in range(COUNT)}
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": n,
                        "labels": {
                            "pullpass.io/inject": "enabled",
                            PROJECT: project,
                            "e2e-scale": project,
                        },
                    },
                }
                for n in sorted(names)
            ],
        }
    )

    def indexed() -> bool:
        """pullpass has the namespaces the API server has (both re-read: probes may go)."""
        total = len(kubectl("get", "namespaces", "-o", "name").stdout.split())
        return metric(pullpass.metrics_text(), "pullpass_index_namespaces") == total

    eventually(indexed, 30, "pullpass to index every namespace", every=0.3)

    name = unique("scale-reg")
    started = time.monotonic()
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})
    polls = 0
    while time.monotonic() - started < DEADLINE + 20 and len(copies(kubectl, name)) < COUNT:
        polls += 1
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    held = copies(kubectl, name)
    with capsys.disabled():  # the measured figure shows in every run, captured or not
        print(
            f"\n{len(held)} of {COUNT} namespaces held the copy {elapsed:.2f}s after "
            f"`kubectl apply` of the source ({polls} polls)"
        )
    assert set(held) == names, f"missing {sorted(names - set(held))[:5]}..."
    assert elapsed <= DEADLINE, f"{elapsed:.2f}s > {DEADLINE}s"
    wait_copies(kubectl, home, name, names)  # every copy equal to the source

    # Clean up as an admin would, which also shows deletion at scale.
    kubectl("delete", "secret", name, "-n", home)
    started = time.monotonic()
    eventually(lambda: not copies(kubectl, name), 30, "all copies to go", every=0.2)
    gone = time.monotonic() - started
    with capsys.disabled():
        print(f"all {COUNT} copies gone {gone:.2f}s after the source's deletion")
    assert get_secret(kubectl, home, name) is None
    kubectl("label", "namespaces", "-l", group, "pullpass.io/inject-")
