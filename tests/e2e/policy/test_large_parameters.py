"""Parameter objects up to the shared spec's budget are stored, and stored lean.

The shared spec may reach MAX_SHARED_BYTES (1 MiB of JSON), mostly map keys (covered, quiet and
listed namespaces). managedFields would list each of those keys again: the writer's replaces
store none, so the object etcd keeps, and every watch of it carries, is the spec's size.
"""

import json
from typing import Any

import pytest

from app.core.policy.manifests import GROUP, MAX_COVERED, MAX_SHARED_BYTES, PLURAL, VERSION
from app.core.policy.parameters import Spec
from app.shell.cluster import policy_writer
from app.shell.cluster.index import Index
from tests.e2e.policy.fixtures import CREDENTIALS_NAMESPACE, PolicyCluster

NAME = "pullpass-large"
NAMES = [f"large-{i:05d}-" + "x" * 51 for i in range(MAX_COVERED)]


def _stored(cluster: PolicyCluster) -> dict[str, Any] | None:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{CREDENTIALS_NAMESPACE}/{PLURAL}/{NAME}"
    done = cluster.kubectl("get", "--raw", path, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def _size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def test_a_spec_up_to_the_budget_is_stored_without_managed_fields(
    policy_mode: PolicyCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An extra object beside what the index calls for (no policy reads it), written by the
    leader's writer: created, replaced, replaced near the budget, then deleted."""
    real = policy_writer.wanted
    shared = real(policy_mode.index(), policy_writer.MAX_HELD_BYTES)
    base = shared[(CREDENTIALS_NAMESPACE, "pullpass-shared")]
    spec: Spec = {**base, "covered": dict.fromkeys(NAMES[:100], True)}

    def with_large(index: Index, held_bytes: int) -> dict[tuple[str, str], Spec]:
        return {**real(index, held_bytes), (CREDENTIALS_NAMESPACE, NAME): spec}

    monkeypatch.setattr(policy_writer, "wanted", with_large)
    policy_mode.write_parameters()
    created = _stored(policy_mode)
    assert created is not None
    assert created["metadata"].get("managedFields"), "a create records them"
    large, smaller = (
        {
            **base,
            "covered": dict.fromkeys(NAMES[:covered], True),
            "quiet": dict.fromkeys(NAMES[:quiet], True),
        }
        for covered, quiet in ((MAX_COVERED, 4000), (3000, 1000))
    )
    assert 0.9 * MAX_SHARED_BYTES < _size(large) <= MAX_SHARED_BYTES
    for spec in (smaller, large):  # `with_large` reads it
        policy_mode.write_parameters()
        stored = _stored(policy_mode)
        assert stored is not None
        assert stored["spec"] == spec, f"a spec of {_size(spec)} bytes was refused"
        assert "managedFields" not in stored["metadata"]
        assert _size(stored) < _size(spec) + 1000
    monkeypatch.setattr(policy_writer, "wanted", real)
    policy_mode.write_parameters()
    assert _stored(policy_mode) is None
