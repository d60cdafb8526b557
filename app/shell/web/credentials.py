"""Secretless mode's exchange: a kubelet's credential request in, the in-scope logins out.

The decisions are the core's (`exchange`, the index's match tables, `registry_auth`, the pod
opt-out in `labels`); this module makes the three kinds of API call they need, a TokenReview for
the pod's token, a read of the pod it is bound to and a read of each matching Secret, and logs
and counts every answer. Secrets are read per request, so a changed password is in the very next
answer; nothing of their data is kept or logged.
"""

import copy
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient, AuthenticationV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException

from app.core import labels
from app.core.admission import respond
from app.core.credentials.dockercfg import BadDockerConfig
from app.core.credentials.exchange import (
    BadExchange,
    Identity,
    Refused,
    bound_pod_labels,
    check_node,
    identity_from_review,
    node_of_caller,
    read_request,
    response,
    token_review,
)
from app.core.credentials.match import Match
from app.core.credentials.registry_auth import login_for
from app.shell.cluster.client import call_json
from app.shell.cluster.index import Index
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.credentials")

# A read by namespace, name and the seconds it may take; a TokenReview likewise.
ReadObject = Callable[[str, str, float], dict[str, Any] | None]
Review = Callable[[dict[str, Any], float], dict[str, Any]]
# Every API call of one answer together must fit in the plugin's own timeout
# (credentialProvider.timeoutSeconds, 3 s), after which the kubelet pulls without it; each call
# takes milliseconds. One attempt each: urllib3's default three retries would make one 8 s.
ANSWER_SECONDS = 2.5


def _left(deadline: float) -> float:
    """Seconds left for the next API call of an answer; none left fails it (503)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("no time left for this answer's API calls")
    return left


@dataclass(frozen=True)
class Exchange:
    index: Index
    review: Review
    read_secret: ReadObject
    read_pod: ReadObject
    audience: str
    cache_seconds: int
    # Namespaces the webhook is never called for (kube-system, the release namespace and the
    # chart's `webhook.excludeNamespaces`): the same decision gives them nothing here.
    unserved: frozenset[str] = frozenset()

    def answer(self, body: bytes, caller: str | None) -> tuple[int, bytes]:
        """Status and body for one request from the plugin; blocking (API calls)."""
        started = time.perf_counter()
        try:
            status, out, outcome, reason, fields = self._answer(body, caller)
        except BadExchange as error:
            status, out, outcome, reason = 400, respond.error(str(error)), "bad", ""
            fields = {"why": str(error)}
        except Refused as error:
            status, out, outcome, reason = 403, respond.error(str(error)), "refused", error.reason
            fields = {"why": str(error), "caller": caller}
        except Exception as error:  # the API server is unreachable or failing: the kubelet retries
            status, out, outcome, reason = 503, respond.error("cannot answer now"), "error", ""
            fields = {"why": type(error).__name__}
        metrics.CREDENTIAL_ANSWERS.labels(outcome, reason).inc()
        metrics.CREDENTIAL_SECONDS.observe(time.perf_counter() - started)
        log.info(f"credentials {outcome}", extra={"reason": reason, **fields})
        return status, out

    def _answer(
        self, body: bytes, caller: str | None
    ) -> tuple[int, bytes, str, str, dict[str, Any]]:
        deadline = time.monotonic() + ANSWER_SECONDS
        node = node_of_caller(caller)
        request = read_request(body)
        identity = identity_from_review(
            self.review(token_review(request.token, self.audience), _left(deadline)),
            self.audience,
        )
        check_node(identity, node)
        fields: dict[str, Any] = {
            "namespace": identity.namespace,
            "pod": identity.pod,
            "serviceaccount": identity.service_account,
            "node": node,
            "image": request.image,
        }
        if identity.namespace in self.unserved:
            fields["credentials"] = []
            return 200, response({}, self.cache_seconds), "none", "unserved", fields
        table = self.index.table(identity.namespace)
        matches = table.match(request.image).matches if table is not None else ()
        if matches and self._opted_out(identity, deadline):
            fields["credentials"] = []
            # Not cached: the kubelet keys its cache by ServiceAccount, and another pod of the
            # same account that did not opt out must be answered afresh.
            return 200, response({}, 0), "none", "opted-out", fields
        auth = self._logins(matches, deadline)
        fields["credentials"] = sorted({f"{m.credential.source.ref}" for m in matches})
        outcome = "granted" if auth else "none"
        reason = "" if auth else ("not-enabled" if table is None else "no-match")
        return 200, response(auth, self.cache_seconds), outcome, reason, fields

    def _opted_out(self, identity: Identity, deadline: float) -> bool:
        """The webhook's pod opt-out, read from the token's pod: one GET, and only when there is
        something to give. A pod that is gone is refused (the core's `bound_pod_labels`); a read
        that fails or times out raises, and the request is answered 503 like any API failure:
        the kubelet pulls without credentials and asks again at its next attempt. Serving a pod
        pullpass cannot check could hand a credential to a pod that opted out; not serving it
        fails only this pull, as an unreachable API server already fails the TokenReview.
        """
        return labels.opted_out(
            bound_pod_labels(
                identity, self.read_pod(identity.namespace, identity.pod, _left(deadline))
            )
        )

    def _logins(self, matches: tuple[Match, ...], deadline: float) -> dict[str, tuple[str, str]]:
        """One login per registry key, the first in scope order (namespace, project, cluster):
        the kubelet's provider response holds one per key."""
        auth: dict[str, tuple[str, str]] = {}
        for match in matches:
            if match.key in auth:
                continue
            source = match.credential.source
            secret = self.read_secret(source.namespace, source.name, _left(deadline))
            if secret is None:
                continue
            try:
                login = login_for(secret, match.key)
            except BadDockerConfig as error:
                log.warning(
                    "credential unreadable", extra={"secret": source.ref, "why": str(error)}
                )
                continue
            if login is not None:
                auth[match.key] = login
        return auth


def cluster_exchange(
    api: ApiClient, index: Index, audience: str, cache_seconds: int, unserved: Iterable[str]
) -> Exchange:
    once = copy.deepcopy(api.configuration)
    once.retries = False
    single = ApiClient(once)
    core = CoreV1Api(single)
    authentication = AuthenticationV1Api(single)

    def review(body: dict[str, Any], timeout: float) -> dict[str, Any]:
        return call_json(authentication.create_token_review, body, _request_timeout=timeout)

    read_secret = _reader(core.read_namespaced_secret)
    read_pod = _reader(core.read_namespaced_pod)
    return Exchange(
        index, review, read_secret, read_pod, audience, cache_seconds, frozenset(unserved)
    )


def _reader(read: Callable[..., Any]) -> ReadObject:
    """A read by namespace and name that answers None for an object that does not exist."""

    def read_object(namespace: str, name: str, timeout: float) -> dict[str, Any] | None:
        try:
            return call_json(read, name, namespace, _request_timeout=timeout)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    return read_object
