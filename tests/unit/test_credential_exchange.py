"""Secretless mode's exchange: who may obtain which login, decided without a cluster.

The API server's answers (TokenReview statuses, Pods, Secrets) are scripted as it returns them;
the index is the one the webhook decides from, so both modes give a pod the same credentials.
"""

import base64
import dataclasses
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import orjson
import pytest
from kubernetes.client import ApiClient, Configuration
from prometheus_client import REGISTRY

from app.core import labels
from app.core.credentials import serving_mode
from app.core.credentials.credential import credential_from_secret, namespace_from_object
from app.core.credentials.dockercfg import BadDockerConfig
from app.core.credentials.exchange import (
    API_VERSION,
    DEFAULT_AUDIENCE,
    BadExchange,
    Identity,
    Refused,
    bound_pod_labels,
    identity_from_review,
    node_of_caller,
    read_request,
    response,
)
from app.core.credentials.registry_auth import login_for
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from app.shell.web import credentials
from app.shell.web.credentials import Exchange, cluster_exchange
from tests.kit.objects import namespace, pod, secret
from tests.kit.raw_http import send_json

NODE = "node-1"
CALLER = f"system:node:{NODE}"
IMAGE = "registry.example:5000/team/app:1"
POD_UID = "0f6c2a7e-uid-app-1"
OPT_OUT = {"pullpass.io/inject": "disabled"}


def request_body(image: str = IMAGE, token: str | None = "t0ken") -> bytes:
    body: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "CredentialProviderRequest"}
    body["image"] = image
    if token is not None:
        body["serviceAccountToken"] = token
    return orjson.dumps(body)


def reviewed(
    namespace: str = "team-a",
    *,
    pod: str | None = "app-1",
    pod_uid: str | None = POD_UID,
    node: str | None = NODE,
    audiences: tuple[str, ...] = (DEFAULT_AUDIENCE,),
    authenticated: bool = True,
    username: str | None = None,
) -> dict[str, Any]:
    extra = {}
    if pod is not None:
        extra["authentication.kubernetes.io/pod-name"] = [pod]
    if pod_uid is not None:
        extra["authentication.kubernetes.io/pod-uid"] = [pod_uid]
    if node is not None:
        extra["authentication.kubernetes.io/node-name"] = [node]
    user = {"username": username or f"system:serviceaccount:{namespace}:default", "extra": extra}
    return {"status": {"authenticated": authenticated, "audiences": list(audiences), "user": user}}


def test_request_needs_the_kubelets_kind_an_image_and_a_token() -> None:
    assert read_request(request_body()).image == IMAGE
    for bad in (b"not json", b"[]", orjson.dumps({"kind": "Pod"}), request_body(image="")):
        with pytest.raises(BadExchange):
            read_request(bad)
    with pytest.raises(Refused) as refused:
        read_request(request_body(token=None))
    assert refused.value.reason == "no-token"


@pytest.mark.parametrize("name", [None, "", "alice", "system:node:", "system:serviceaccount:a:b"])
def test_only_a_node_certificate_is_a_caller(name: str | None) -> None:
    with pytest.raises(Refused) as refused:
        node_of_caller(name)
    assert refused.value.reason == "not-a-node"


def test_a_pod_bound_token_for_the_audience_names_the_pod_and_its_node() -> None:
    identity = identity_from_review(reviewed(), DEFAULT_AUDIENCE)
    assert identity == Identity("team-a", "default", "app-1", POD_UID, NODE)


@pytest.mark.parametrize(
    ("review", "reason"),
    [
        (reviewed(authenticated=False), "token"),
        (reviewed(audiences=("https://kubernetes.default.svc",)), "token"),
        (reviewed(username="system:node:node-1"), "token"),
        # `kubectl create token` gives a token bound to nothing.
        (reviewed(pod=None, pod_uid=None, node=None), "not-pod-bound"),
        (reviewed(pod_uid=None), "not-pod-bound"),
        (reviewed(node=None), "not-pod-bound"),
    ],
)
def test_tokens_that_are_not_a_pods_for_the_audience_are_refused(
    review: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Refused) as refused:
        identity_from_review(review, DEFAULT_AUDIENCE)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("pod_labels", "out"),
    [
        (OPT_OUT, True),
        ({"pullpass.io/inject": "enabled"}, False),
        ({"pullpass.io/inject": "Disabled"}, False),
        ({"pullpass.io/injected": "disabled", "app": "web"}, False),
        ({}, False),
    ],
)
def test_only_inject_disabled_opts_a_pod_out(pod_labels: dict[str, str], out: bool) -> None:
    assert labels.opted_out(pod_labels) is out


def test_the_token_s_pod_is_read_back_by_uid() -> None:
    identity = identity_from_review(reviewed(), DEFAULT_AUDIENCE)
    assert bound_pod_labels(identity, bound_pod(OPT_OUT)) == OPT_OUT
    assert bound_pod_labels(identity, {"metadata": {"uid": POD_UID}}) == {}
    # Gone, or re-created under the same name: not the pod the token was issued for.
    for gone in (None, bound_pod(OPT_OUT, uid="another-uid"), {}):
        with pytest.raises(Refused) as refused:
            bound_pod_labels(identity, gone)
        assert refused.value.reason == "pod-gone"


def test_response_is_the_kubelets_with_the_cache_bound() -> None:
    out = orjson.loads(response({"r.example": ("u", "p")}, 30))
    assert out == {
        "apiVersion": API_VERSION,
        "kind": "CredentialProviderResponse",
        "cacheKeyType": "Image",
        "cacheDuration": "30s",
        "auth": {"r.example": {"username": "u", "password": "p"}},
    }


def test_login_read_as_the_kubelet_reads_it() -> None:
    modern = secret("ns", "s", {"r.example": ("user", "pa:ss")})
    assert login_for(modern, "r.example") == ("user", "pa:ss")
    assert login_for(modern, "other.example") is None
    legacy = secret("ns", "s", {"r.example": ("user", "pw")}, legacy=True)
    assert login_for(legacy, "r.example") == ("user", "pw")
    plain = {"auths": {"r.example": {"Username": "a", "password": "b"}}}
    typed = {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(orjson.dumps(plain)).decode()},
    }
    assert login_for(typed, "r.example") == ("a", "b")
    with pytest.raises(BadDockerConfig):
        login_for({"type": "Opaque", "data": {}}, "r.example")


def test_serving_mode_names_each_mode_of_an_enabled_namespace() -> None:
    on = namespace_from_object(namespace("a", {"pullpass.io/inject": "enabled"}))
    off = namespace_from_object(namespace("b"))
    both = serving_mode.Modes.named("both")
    assert serving_mode.serving(on, both).startswith("webhook")
    assert "secretless" in serving_mode.serving(on, both)
    assert "secretless" not in serving_mode.serving(on, serving_mode.WEBHOOK_ONLY)
    assert serving_mode.serving(on, serving_mode.Modes.named("secretless")).startswith("secret")
    assert serving_mode.serving(off, both).startswith("none")
    assert serving_mode.serving(None, both).startswith("none")


# --- the exchange over the index, with the API server scripted ---

OBJECTS = [
    namespace("pullpass-system"),
    namespace("team-a", {"pullpass.io/inject": "enabled", "pullpass.io/project": "alpha"}),
    namespace("team-b", {"pullpass.io/inject": "enabled", "pullpass.io/project": "beta"}),
    namespace("off", {"pullpass.io/project": "alpha"}),
    secret(
        "pullpass-system",
        "alpha-registry",
        {"registry.example:5000": ("alpha", "pw-alpha-51x")},
        labels={"pullpass.io/project": "alpha"},
    ),
]


def bound_pod(
    pod_labels: dict[str, str] | None = None, namespace: str = "team-a", uid: str = POD_UID
) -> dict[str, Any]:
    """The pod `reviewed` binds the token to, as the API server returns it."""
    return pod(namespace, IMAGE, name="app-1", labels=pod_labels, uid=uid)


class Cluster:
    """The three calls the exchange makes, answered from `review`, `pods` and `secrets`."""

    def __init__(self, review: dict[str, Any], pod_labels: dict[str, str] | None = None) -> None:
        self.review_answer = review
        namespace = review["status"]["user"]["username"].split(":")[2]
        self.pods: dict[tuple[str, str], dict[str, Any]] = {
            (namespace, "app-1"): bound_pod(pod_labels, namespace)
        }
        self.secrets = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o
            for o in OBJECTS
            if o["kind"] == "Secret"
        }
        self.reviews: list[dict[str, Any]] = []
        self.pod_reads: list[tuple[str, str]] = []
        self.secret_reads: list[tuple[str, str]] = []

    def review(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.reviews.append(body)
        return self.review_answer

    def read_pod(self, namespace: str, name: str, timeout: float) -> dict[str, Any] | None:
        self.pod_reads.append((namespace, name))
        return self.pods.get((namespace, name))

    def read_secret(self, namespace: str, name: str, timeout: float) -> dict[str, Any] | None:
        self.secret_reads.append((namespace, name))
        return self.secrets.get((namespace, name))


def indexed() -> Index:
    index = Index(ScopeSettings("pullpass-system"), fixed=True)
    for obj in OBJECTS:
        if obj["kind"] == "Namespace":
            index.put_namespace(namespace_from_object(obj))
        else:
            credential = credential_from_secret(obj)
            assert credential is not None
            index.put_credential(credential)
    return index


def exchange(cluster: Cluster) -> Exchange:
    return Exchange(
        indexed(), cluster.review, cluster.read_secret, cluster.read_pod, DEFAULT_AUDIENCE, 30
    )


def answers(outcome: str, reason: str) -> float:
    labelled = {"outcome": outcome, "reason": reason}
    return REGISTRY.get_sample_value("pullpass_credential_answers_total", labelled) or 0.0


def test_a_pod_in_the_project_gets_the_project_login() -> None:
    cluster = Cluster(reviewed("team-a"))
    status, body = exchange(cluster).answer(request_body(), CALLER)
    assert status == 200
    assert orjson.loads(body)["auth"] == {
        "registry.example:5000": {"username": "alpha", "password": "pw-alpha-51x"}
    }
    assert cluster.reviews[0]["spec"] == {"token": "t0ken", "audiences": [DEFAULT_AUDIENCE]}


def test_a_changed_password_is_in_the_next_answer() -> None:
    cluster = Cluster(reviewed("team-a"))
    source = cluster.secrets[("pullpass-system", "alpha-registry")]
    cluster.secrets[("pullpass-system", "alpha-registry")] = {
        **source,
        **secret("pullpass-system", "alpha-registry", {"registry.example:5000": ("alpha", "new")}),
    }
    _, body = exchange(cluster).answer(request_body(), CALLER)
    assert orjson.loads(body)["auth"]["registry.example:5000"]["password"] == "new"


@pytest.mark.parametrize("namespace_name", ["team-b", "off"])
def test_a_pod_outside_the_scope_gets_no_login(namespace_name: str) -> None:
    status, body = exchange(Cluster(reviewed(namespace_name))).answer(request_body(), CALLER)
    assert status == 200
    assert orjson.loads(body)["auth"] == {}


def test_a_namespace_the_webhook_never_serves_gets_nothing_here() -> None:
    cluster = Cluster(reviewed("team-a"))
    before = answers("none", "unserved")
    served = exchange(cluster)
    unserved = dataclasses.replace(served, unserved=frozenset({"team-a"}))
    status, body = unserved.answer(request_body(), CALLER)
    assert (status, orjson.loads(body)["auth"]) == (200, {})
    assert answers("none", "unserved") == before + 1
    assert (cluster.pod_reads, cluster.secret_reads) == ([], [])
    assert orjson.loads(served.answer(request_body(), CALLER)[1])["auth"] != {}


def test_a_token_for_a_pod_on_another_node_is_refused() -> None:
    status, body = exchange(Cluster(reviewed("team-a", node="node-2"))).answer(
        request_body(), CALLER
    )
    assert status == 403
    assert b"pw-alpha" not in body


def test_without_a_node_certificate_no_token_is_even_reviewed() -> None:
    cluster = Cluster(reviewed("team-a"))
    status, _ = exchange(cluster).answer(request_body(), None)
    assert status == 403
    assert cluster.reviews == []


def test_bad_body_is_a_400_and_a_failing_api_server_a_503() -> None:
    cluster = Cluster(reviewed("team-a"))
    assert exchange(cluster).answer(b"{", CALLER)[0] == 400

    def down(_: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionError("refused")

    cluster.review = down  # type: ignore[method-assign]
    status, body = exchange(cluster).answer(request_body(), CALLER)
    assert status == 503
    assert orjson.loads(body)["error"] == "cannot answer now"


def test_no_login_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    exchange(Cluster(reviewed("team-a"))).answer(request_body(), CALLER)
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "granted" in text
    assert "pw-alpha" not in text
    assert "t0ken" not in text


# --- the pod's opt-out: the webhook's `pullpass.io/inject=disabled`, read from the pod ---


def test_a_pod_that_opted_out_gets_nothing_and_no_secret_is_read() -> None:
    cluster = Cluster(reviewed("team-a"), OPT_OUT)
    before = answers("none", "opted-out")
    status, body = exchange(cluster).answer(request_body(), CALLER)
    assert status == 200
    out = orjson.loads(body)
    assert out["auth"] == {}
    # Not cached by the kubelet: its cache is per ServiceAccount, shared with pods that did not
    # opt out.
    assert out["cacheDuration"] == "0s"
    assert cluster.pod_reads == [("team-a", "app-1")]
    assert cluster.secret_reads == []
    assert answers("none", "opted-out") == before + 1


def test_one_pod_read_per_request_and_none_when_there_is_nothing_to_give() -> None:
    cluster = Cluster(reviewed("team-a"), {"app": "web"})
    status, body = exchange(cluster).answer(request_body(), CALLER)
    assert status == 200
    assert orjson.loads(body)["cacheDuration"] == "30s"
    assert list(orjson.loads(body)["auth"]) == ["registry.example:5000"]
    assert cluster.pod_reads == [("team-a", "app-1")]
    for namespace_name, image in [("off", IMAGE), ("team-a", "quay.io/other/app:1")]:
        cluster = Cluster(reviewed(namespace_name), OPT_OUT)
        status, body = exchange(cluster).answer(request_body(image), CALLER)
        assert (status, orjson.loads(body)["auth"]) == (200, {})
        assert cluster.pod_reads == []


def test_a_pod_gone_or_recreated_under_its_name_is_refused() -> None:
    for replaced in (None, bound_pod(uid="a-new-uid")):
        cluster = Cluster(reviewed("team-a"))
        if replaced is None:
            cluster.pods.clear()
        else:
            cluster.pods[("team-a", "app-1")] = replaced
        before = answers("refused", "pod-gone")
        status, body = exchange(cluster).answer(request_body(), CALLER)
        assert status == 403
        assert b"pw-alpha" not in body
        assert cluster.secret_reads == []
        assert answers("refused", "pod-gone") == before + 1


def test_a_pod_that_cannot_be_read_is_not_served() -> None:
    """Fail closed: serving a pod that may have opted out could leak a credential out of scope;
    the kubelet pulls without this answer and asks again at its next attempt."""
    cluster = Cluster(reviewed("team-a"))

    def down(namespace: str, name: str, timeout: float) -> dict[str, Any] | None:
        raise TimeoutError("read timed out")

    cluster.read_pod = down  # type: ignore[method-assign]
    before = answers("error", "")
    status, body = exchange(cluster).answer(request_body(), CALLER)
    assert status == 503
    assert orjson.loads(body) == {"error": "cannot answer now"}
    assert cluster.secret_reads == []
    assert answers("error", "") == before + 1


def test_the_opt_out_is_logged_like_every_answer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pullpass.credentials")
    exchange(Cluster(reviewed("team-a"), OPT_OUT)).answer(request_body(), CALLER)
    [record] = caplog.records
    assert record.getMessage() == "credentials none"
    fields = record.__dict__
    assert (fields["reason"], fields["namespace"], fields["pod"]) == (
        "opted-out",
        "team-a",
        "app-1",
    )
    assert fields["credentials"] == []


# --- the same through the real API client, against a scripted API server over HTTP ---


class ScriptedApi(BaseHTTPRequestHandler):
    """The API server's three paths the exchange uses; `pod` says how the pod read answers
    (opted out, `plain` or `gone`), and
    `hang` which call takes longer than an answer may (`review`, `pod` or `secret`)."""

    pod = "labelled"
    hang = ""
    pod_gets: ClassVar[list[float]] = []
    calls: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._called("review")
        self._json(200, reviewed("team-a"))

    def do_GET(self) -> None:
        if self.path == "/api/v1/namespaces/team-a/pods/app-1":
            ScriptedApi.pod_gets.append(time.monotonic())
            self._called("pod")
            if self.pod == "gone":
                self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
            else:
                self._json(200, bound_pod(OPT_OUT if self.pod == "labelled" else None))
        else:
            self._called("secret")
            self._json(200, OBJECTS[-1])

    def _called(self, call: str) -> None:
        ScriptedApi.calls.append(call)
        if self.hang == call:
            time.sleep(1.5)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        send_json(self, status, orjson.dumps(body))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what it needs from `pod_gets` and `calls`."""


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Exchange]:
    monkeypatch.setattr(credentials, "ANSWER_SECONDS", 0.6)
    ScriptedApi.pod_gets, ScriptedApi.calls = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configuration = Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_port}"
    yield cluster_exchange(ApiClient(configuration), indexed(), DEFAULT_AUDIENCE, 30, ())
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("pod_read", "status"), [("labelled", 200), ("gone", 403), ("hang", 503)])
def test_the_pod_is_read_once_and_a_slow_read_gives_up_in_time(
    api: Exchange, monkeypatch: pytest.MonkeyPatch, pod_read: str, status: int
) -> None:
    monkeypatch.setattr(ScriptedApi, "pod", pod_read)
    monkeypatch.setattr(ScriptedApi, "hang", "pod" if pod_read == "hang" else "")
    began = time.monotonic()
    answered, body = api.answer(request_body(), CALLER)
    took = time.monotonic() - began
    assert answered == status
    assert b"pw-alpha" not in body
    # One attempt (urllib3's default would retry a timed-out GET three times), within the bound.
    assert len(ScriptedApi.pod_gets) == 1
    assert took < 1.2, took


@pytest.mark.parametrize("slow", ["review", "secret"])
def test_every_call_of_an_answer_shares_one_time_budget(
    api: Exchange, monkeypatch: pytest.MonkeyPatch, slow: str
) -> None:
    """A TokenReview or Secret read that hangs fails this answer (503) within the budget, in one
    attempt, and nothing after it is asked: the kubelet's plugin gives up at 3 s."""
    monkeypatch.setattr(ScriptedApi, "pod", "plain")
    monkeypatch.setattr(ScriptedApi, "hang", slow)
    began = time.monotonic()
    answered, body = api.answer(request_body(), CALLER)
    took = time.monotonic() - began
    assert (answered, orjson.loads(body)) == (503, {"error": "cannot answer now"})
    assert took < 1.2, took
    assert ScriptedApi.calls.count(slow) == 1
    assert ScriptedApi.calls[-1] == slow
