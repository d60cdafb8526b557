"""The policy parameter writer when the API server refuses one namespace's object.

The leader writes one object per covered namespace. A refusal in one namespace (RBAC, a namespace
being deleted) must not leave the others unwritten, nor send the next pass back to listing
everything: only what was refused is read again and retried, a second later. A namespace that is
being deleted is no fault: it is logged once at info level and not retried on the timer.
"""

import logging
import threading

import pytest
from kubernetes import client
from prometheus_client import REGISTRY

from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster import policy_writer
from app.shell.cluster.index import Index
from app.shell.cluster.leader_work import LeaderSetup, Pacing
from app.shell.cluster.policy_writer import PolicyWriter, wanted
from tests.kit.eventually import eventually
from tests.unit.fake_objects import FakeObjects, forbidden, namespace_gone, refusal, terminating

ENABLED = {"pullpass.io/inject": "enabled"}
TYPE = "kubernetes.io/dockerconfigjson"


def own_credential(namespace: str, *keys: str, version: str = "1") -> Credential:
    """A credential of the namespace's own: the namespace gets a parameter object of its own."""
    return Credential(namespace, "own", TYPE, {}, {}, keys or ("quay.io",), version, "d")


def cluster(*names: str) -> Index:
    index = Index(ScopeSettings("home"))
    for name in names:
        index.put_namespace(NamespaceInfo(name, ENABLED))
        index.put_credential(own_credential(name))
    return index


def writer_on(index: Index, fake: FakeObjects) -> PolicyWriter:
    leading = threading.Event()
    leading.set()
    # No resolution held in the shared object: each namespace gets an object of its own.
    writer = PolicyWriter(LeaderSetup(client.ApiClient(), index, leading, lambda: True), 0)
    writer.custom = fake  # type: ignore[assignment]
    return writer


def written(fake: FakeObjects) -> set[str]:
    return {namespace for namespace, _ in fake.objects}


def refused() -> float:
    value = REGISTRY.get_sample_value("pullpass_parameter_writes_total", {"action": "refused"})
    return value or 0.0


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (terminating("b"), "going"),
        (namespace_gone("b"), "going"),
        (
            refusal(404, 'pullpassrules.pullpass.io "pullpass" not found', kind="pullpassrules"),
            "changed",
        ),
        (refusal(409, "the object has been modified; please apply your changes"), "changed"),
        (forbidden("b"), "failed"),
        (refusal(500, "etcdserver: request timed out"), "failed"),
        (ConnectionError("refused"), "failed"),
    ],
    ids=["terminating", "namespace-gone", "object-gone", "conflict", "rbac", "500", "no-answer"],
)
def test_a_refusal_is_read_from_the_api_servers_status(error: Exception, why: str) -> None:
    assert policy_writer._refusal(error) == why


def test_a_refused_namespace_leaves_the_others_written_and_alone_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeObjects()
    fake.refuse["b"] = forbidden("b")
    writer = writer_on(cluster("a", "b", "c"), fake)
    with caplog.at_level(logging.INFO, "pullpass.policy"):
        assert writer.reconcile() == 1, "one write failed, due again on the next pass"
    assert written(fake) == {"home", "a", "c"}
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.object == "b/pullpass"  # type: ignore[attr-defined]
    assert warning.status == 403  # type: ignore[attr-defined]
    assert "cannot create" in warning.detail  # type: ignore[attr-defined]
    del fake.refuse["b"]
    fake.calls.clear()
    assert writer.reconcile() == 0
    assert written(fake) == {"home", "a", "b", "c"}
    assert fake.calls == [("list", "b"), ("create", "b")], "b alone read again and written"


def test_a_namespace_being_deleted_is_reported_once_at_info_and_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeObjects()
    index = cluster("a", "b")
    writer = writer_on(index, fake)
    assert writer.reconcile() == 0
    before = refused()
    fake.calls.clear()
    # b is deleted: the namespace controller removes its content, new content is refused.
    del fake.objects["b", "pullpass"]
    fake.refuse["b"] = terminating("b")
    index.put_credential(own_credential("b", "quay.io", "ghcr.io", version="2"))
    with caplog.at_level(logging.DEBUG, "pullpass.policy"):
        # The replace finds the object gone: read again on the timer's next pass, not an error.
        assert writer.reconcile() == 1
        assert writer.reconcile() == 0, "a namespace being deleted is not retried on the timer"
        # Other changes come; b still refuses, and is not reported again.
        index.put_credential(own_credential("a", "quay.io", "ghcr.io", version="2"))
        assert writer.reconcile() == 0
    assert fake.verbs("b") == ["replace", "list", "create", "list", "create"]
    assert [r.levelno for r in caplog.records if r.levelno > logging.INFO] == []
    going = [r for r in caplog.records if "being deleted" in r.getMessage()]
    assert [r.levelno for r in going] == [logging.INFO, logging.DEBUG]
    assert refused() - before == 2
    assert fake.objects["a", "pullpass"]["spec"] == wanted(index, 0)["a", "pullpass"]
    # The namespace's deletion reaches the index: nothing more is tried there.
    index.delete_namespace("b")
    index.delete_credential("b", "own")
    fake.calls.clear()
    writer.reconcile()
    assert fake.verbs("b") == ["list"]
    assert writer._going == set()


def test_the_leader_retries_only_the_refused_object_a_moment_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On its thread, with no index change after the first pass: the refusal alone brings the
    next pass, which lists nothing."""
    monkeypatch.setattr(policy_writer, "PACING", Pacing(300.0, 0.01, 0.001, 0.001))
    fake = FakeObjects()
    fake.refuse["b"] = forbidden("b")
    writer = writer_on(cluster("a", "b", "c"), fake)
    writer.start()
    try:
        eventually(lambda: written(fake) == {"home", "a", "c"}, 10, "the first pass")
        eventually(lambda: fake.verbs("b").count("create") >= 2, 10, "a retry")
        del fake.refuse["b"]
        eventually(lambda: "b" in written(fake), 10, "the refused object written")
    finally:
        writer.leading.clear()  # the thread idles, waiting for the Lease
    assert fake.verbs("") == ["list"], "all objects are listed once, on taking the Lease"
    assert fake.verbs("a") == fake.verbs("c") == ["create"]
