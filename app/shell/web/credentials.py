"""Secretless mode's exchange: a kubelet's credential request in, the in-scope logins out.

The decisions are the core's (`exchange`, the index's match tables, `registry_auth`); this
module makes the two kinds of API call they need, a TokenReview for the pod's token and a read of
each matching Secret, and logs and counts every answer. Secrets are read per request, so a
changed password is in the very next answer; nothing of their data is kept or logged.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient, AuthenticationV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException

from app.core.admission import respond
from app.core.credentials.dockercfg import BadDockerConfig
from app.core.credentials.exchange import (
    BadExchange,
    Refused,
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

ReadSecret = Callable[[str, str], dict[str, Any] | None]
Review = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Exchange:
    index: Index
    review: Review
    read_secret: ReadSecret
    audience: str
    cache_seconds: int

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
        node = node_of_caller(caller)
        request = read_request(body)
        identity = identity_from_review(
            self.review(token_review(request.token, self.audience)), self.audience
        )
        check_node(identity, node)
        fields: dict[str, Any] = {
            "namespace": identity.namespace,
            "pod": identity.pod,
            "serviceaccount": identity.service_account,
            "node": node,
            "image": request.image,
        }
        table = self.index.table(identity.namespace)
        matches = table.match(request.image).matches if table is not None else ()
        auth = self._logins(matches)
        fields["credentials"] = sorted({f"{m.credential.source.ref}" for m in matches})
        outcome = "granted" if auth else "none"
        reason = "" if auth else ("not-enabled" if table is None else "no-match")
        return 200, response(auth, self.cache_seconds), outcome, reason, fields

    def _logins(self, matches: tuple[Match, ...]) -> dict[str, tuple[str, str]]:
        """One login per registry key, the first in scope order (namespace, project, cluster):
        the kubelet's provider response holds one per key."""
        auth: dict[str, tuple[str, str]] = {}
        for match in matches:
            if match.key in auth:
                continue
            source = match.credential.source
            secret = self.read_secret(source.namespace, source.name)
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


def cluster_exchange(api: ApiClient, index: Index, audience: str, cache_seconds: int) -> Exchange:
    core = CoreV1Api(api)
    authentication = AuthenticationV1Api(api)

    def review(body: dict[str, Any]) -> dict[str, Any]:
        return call_json(authentication.create_token_review, body)

    def read_secret(namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return call_json(core.read_namespaced_secret, name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    return Exchange(index, review, read_secret, audience, cache_seconds)
