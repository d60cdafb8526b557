"""The credential exchange of secretless mode, as pure decisions (no I/O).

The kubelet's credential provider plugin sends the image and a ServiceAccount token bound to the
pod being pulled for. pullpass answers only when three facts agree: the API server vouches for
the token with pullpass's audience (a TokenReview), the token is bound to a pod on a node, and
the caller's client certificate names that same node's kubelet. A token alone, copied out of a
pod or minted with `kubectl create token`, is therefore worth nothing. The pod itself, read back
and matched by uid, may carry the webhook's opt-out label: then the answer is empty, so both
modes leave the same pods alone.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

API_VERSION = "credentialprovider.kubelet.k8s.io/v1"
DEFAULT_AUDIENCE = "pullpass.io/credentials"
NODE_PREFIX = "system:node:"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
_EXTRA = "authentication.kubernetes.io/"
MAX_IMAGE = 4096


class BadExchange(ValueError):
    """A request body that is not a CredentialProviderRequest pullpass can answer."""


class Refused(Exception):
    """The caller or its token may not obtain credentials; `reason` is a short stable word for
    the counter, the message says why for the log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    image: str
    token: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the token was issued to, as the API server's TokenReview says."""

    namespace: str
    service_account: str
    pod: str
    pod_uid: str
    node: str


def read_request(body: bytes) -> ProviderRequest:
    """The plugin forwards the kubelet's request unchanged; only image and token are used."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadExchange("body is not JSON") from None
    if not isinstance(document, dict):
        raise BadExchange("body must be a JSON object")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != (
        "CredentialProviderRequest"
    ):
        raise BadExchange(f"body must be a {API_VERSION} CredentialProviderRequest")
    image = document.get("image")
    if not isinstance(image, str) or not image or len(image) > MAX_IMAGE:
        raise BadExchange("image must be a non-empty string")
    token = document.get("serviceAccountToken")
    if not isinstance(token, str) or not token:
        raise Refused("no-token", "the request carries no ServiceAccount token")
    return ProviderRequest(image, token)


def node_of_caller(common_name: str | None) -> str:
    """The node whose kubelet holds the client certificate (CN `system:node:<name>`)."""
    if not common_name or not common_name.startswith(NODE_PREFIX):
        raise Refused("not-a-node", "the client certificate is not a node's")
    name = common_name[len(NODE_PREFIX) :]
    if not name:
        raise Refused("not-a-node", "the client certificate names no node")
    return name


def token_review(token: str, audience: str) -> dict[str, Any]:
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": [audience]},
    }


def identity_from_review(review: Mapping[str, Any], audience: str) -> Identity:
    """The pod-bound identity in a TokenReview's status, or Refused saying what is missing."""
    status = review.get("status") or {}
    if status.get("authenticated") is not True:
        raise Refused("token", "the token was not authenticated for the audience")
    if audience not in (status.get("audiences") or ()):
        raise Refused("token", "the token is not for pullpass's audience")
    user = status.get("user") or {}
    username = str(user.get("username", ""))
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        raise Refused("token", "the token is not a ServiceAccount's")
    namespace, _, account = username[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
    extra = user.get("extra") or {}
    pod = _single(extra, "pod-name")
    pod_uid = _single(extra, "pod-uid")
    node = _single(extra, "node-name")
    if not pod or not pod_uid:
        raise Refused("not-pod-bound", "the token is not bound to a pod")
    if not node:
        raise Refused("not-pod-bound", "the token is not bound to a node")
    return Identity(namespace, account, pod, pod_uid, node)


def check_node(identity: Identity, caller_node: str) -> None:
    if identity.node != caller_node:
        raise Refused("other-node", f"the pod is on node {identity.node}, not the caller's")


def bound_pod_labels(identity: Identity, pod: Mapping[str, Any] | None) -> Mapping[str, str]:
    """The labels of the pod the token is bound to, read back by name; Refused when it is gone.

    A pod deleted since, or re-created under the same name (another uid), is not the token's:
    its labels say nothing about the pull the token was issued for.
    """
    metadata = (pod or {}).get("metadata") or {}
    if metadata.get("uid") != identity.pod_uid:
        raise Refused("pod-gone", f"the token's pod {identity.pod} no longer exists")
    labels: Mapping[str, str] = metadata.get("labels") or {}
    return labels


def _single(extra: Mapping[str, Any], name: str) -> str:
    values = extra.get(_EXTRA + name) or ()
    return str(values[0]) if isinstance(values, list) and len(values) == 1 else ""


def response(auth: Mapping[str, tuple[str, str]], cache_seconds: int) -> bytes:
    """The kubelet's CredentialProviderResponse.

    `cacheKeyType: Image` with the plugin's `cacheType: ServiceAccount` keys the kubelet's cache
    by image and ServiceAccount, so one account's answer never serves another's pod; the
    duration bounds how long a rotated or revoked credential can still be used for a new pull.
    """
    return orjson.dumps(
        {
            "apiVersion": API_VERSION,
            "kind": "CredentialProviderResponse",
            "cacheKeyType": "Image",
            "cacheDuration": f"{cache_seconds}s",
            "auth": {key: {"username": u, "password": p} for key, (u, p) in auth.items()},
        }
    )
