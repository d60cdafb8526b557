"""Malformed bodies get 400 with a JSON message naming the problem; never a 500."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.kit.objects import pod, review
from tests.kit.review_fields import REVIEW_FIELDS
from tests.kit.serving import Server


def valid() -> dict[str, Any]:
    return review(pod("team-a", "quay.io/x/y"))


def broken(path: str, value: Any) -> bytes:
    body: Any = valid()
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return json.dumps(body).encode()


CASES = [
    (b"", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b"null", "must be a JSON object"),
    (json.dumps({**valid(), "apiVersion": "admission.k8s.io/v1beta1"}).encode(), "apiVersion"),
    (json.dumps({**valid(), "kind": "Pod"}).encode(), "kind must be"),
    (broken("request", "x"), "request must be an object"),
    (broken("request.uid", KeyError), "request.uid"),
    (broken("request.uid", 7), "request.uid"),
    (broken("request.kind", "Pod"), "request.kind must be an object"),
    (broken("request.operation", None), "request.operation"),
    (broken("request.object", []), "request.object must be an object"),
    (broken("request.dryRun", "yes"), "request.dryRun"),
    (broken("request.object.spec", []), "spec must be an object"),
    (broken("request.object.spec.containers", {}), "spec.containers must be a list"),
    (broken("request.object.spec.containers", [1]), "spec.containers[0] must be an object"),
    (broken("request.object.spec.containers", [{"image": 5}]), "spec.containers[0]"),
    (broken("request.object.spec.imagePullSecrets", "x"), "spec.imagePullSecrets must be a list"),
    (broken("request.object.metadata.labels", {"a": 1}), "metadata.labels"),
]


@pytest.mark.parametrize(("body", "message"), CASES)
def test_malformed_review_is_a_400_that_names_the_problem(
    server: Server, body: bytes, message: str
) -> None:
    answer = server.post(body)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert message in answer.json()["error"]


def test_body_over_3_mib_is_413(server: Server) -> None:
    answer = server.post(b" " * (3 * 1024 * 1024 + 1))
    assert answer.status_code == 413
    assert "larger than" in answer.json()["error"]


def test_body_of_exactly_3_mib_is_served(server: Server) -> None:
    """3 MiB, not 3 MB: a review padded to the limit itself is read and answered."""
    request = valid()
    body = json.dumps(request).encode()
    answer = server.post(body + b" " * (3 * 1024 * 1024 - len(body)))
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["uid"] == request["request"]["uid"]


def test_chunked_body_over_the_limit_is_413(server: Server) -> None:
    def chunks() -> Any:
        for _ in range(4):
            yield b" " * (1024 * 1024)

    answer = server.client.post(f"{server.base}/mutate", content=chunks())
    assert answer.status_code == 413


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(REVIEW_FIELDS)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(st.tuples(FIELDS, JSONISH), max_size=3),
    images=st.lists(st.text(max_size=40), max_size=3),
)
def test_any_review_shape_gets_200_or_400(
    server: Server, changes: list[tuple[str, Any]], images: list[str]
) -> None:
    body: Any = review(pod("team-a", *images))
    for path, value in changes:
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target[last] = value
    answer = server.post(json.dumps(body).encode())
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 200:
        assert answer.json()["response"]["uid"] == body["request"]["uid"]
    else:
        assert answer.json()["error"]
