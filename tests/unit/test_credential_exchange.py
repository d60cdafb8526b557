"""Secretless mode's exchange: who may obtain which login, decided without a cluster.

The API server's answers (TokenReview statuses, Secrets) are scripted as it returns them; the
index is the one the webhook decides from, so both modes give a pod the same credentials.
"""

import base64
from typing import Any

import orjson
import pytest

from app.core.credentials import serving_mode
from app.core.credentials.credential import credential_from_secret, namespace_from_object
from app.core.credentials.dockercfg import BadDockerConfig
from app.core.credentials.exchange import (
    API_VERSION,
    DEFAULT_AUDIENCE,
    BadExchange,
    Refused,
    identity_from_review,
    node_of_caller,
    read_request,
    response,
)
from app.core.credentials.registry_auth import login_for
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from app.shell.web.credentials import Exchange
from tests.kit.objects import namespace, secret

NODE = "node-1"
CALLER = f"system:node:{NODE}"
IMAGE = "registry.example:5000/team/app:1"


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
    node: str | None = NODE,
    audiences: tuple[str, ...] = (DEFAULT_AUDIENCE,),
    authenticated: bool = True,
    username: str | None = None,
) -> dict[str, Any]:
    extra = {}
    if pod is not None:
        extra["authentication.kubernetes.io/pod-name"] = [pod]
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
    assert (identity.namespace, identity.service_account, identity.pod, identity.node) == (
        "team-a",
        "default",
        "app-1",
        NODE,
    )


@pytest.mark.parametrize(
    ("review", "reason"),
    [
        (reviewed(authenticated=False), "token"),
        (reviewed(audiences=("https://kubernetes.default.svc",)), "token"),
        (reviewed(username="system:node:node-1"), "token"),
        # `kubectl create token` gives a token bound to nothing.
        (reviewed(pod=None, node=None), "not-pod-bound"),
        (reviewed(node=None), "not-pod-bound"),
    ],
)
def test_tokens_that_are_not_a_pods_for_the_audience_are_refused(
    review: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Refused) as refused:
        identity_from_review(review, DEFAULT_AUDIENCE)
    assert refused.value.reason == reason


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


class Cluster:
    """The two calls the exchange makes, answered from `secrets` and `review`."""

    def __init__(self, review: dict[str, Any]) -> None:
        self.review_answer = review
        self.secrets = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o
            for o in OBJECTS
            if o["kind"] == "Secret"
        }
        self.reviews: list[dict[str, Any]] = []

    def review(self, body: dict[str, Any]) -> dict[str, Any]:
        self.reviews.append(body)
        return self.review_answer

    def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get((namespace, name))


def exchange(cluster: Cluster) -> Exchange:
    index = Index(ScopeSettings("pullpass-system"), fixed=True)
    for obj in OBJECTS:
        if obj["kind"] == "Namespace":
            index.put_namespace(namespace_from_object(obj))
        else:
            credential = credential_from_secret(obj)
            assert credential is not None
            index.put_credential(credential)
    return Exchange(index, cluster.review, cluster.read_secret, DEFAULT_AUDIENCE, 30)


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
