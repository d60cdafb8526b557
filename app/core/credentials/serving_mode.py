"""Which of pullpass's two modes serves a namespace (pure), for `explain` and `audit`.

The webhook mode names copies in each pod's `imagePullSecrets`; the secretless mode answers the
kubelet's credential provider, with no copy and no change to the pod. Both follow the same scope
rules, so a namespace is served when it is enabled, by whichever modes the installation runs.
"""

from dataclasses import dataclass

from app.core import labels
from app.core.credentials.credential import NamespaceInfo

WEBHOOK = "webhook"
SECRETLESS = "secretless"
BOTH = "both"
CHOICES = (WEBHOOK, SECRETLESS, BOTH)


@dataclass(frozen=True, slots=True)
class Modes:
    webhook: bool = True
    secretless: bool = False

    @staticmethod
    def named(choice: str) -> "Modes":
        return Modes(webhook=choice in (WEBHOOK, BOTH), secretless=choice in (SECRETLESS, BOTH))


WEBHOOK_ONLY = Modes()


def serving(namespace: NamespaceInfo | None, modes: Modes) -> str:
    """One line: the modes that serve `namespace`, or why none does."""
    if namespace is None or not namespace.enabled:
        return f"none (the namespace is not labelled {labels.INJECT}={labels.ENABLED})"
    served = []
    if modes.webhook:
        served.append("webhook (copies named in imagePullSecrets)")
    if modes.secretless:
        served.append("secretless (the kubelet asks pullpass; no copy, pod unchanged)")
    return " and ".join(served)
