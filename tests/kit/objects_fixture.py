"""The fixed cluster the HTTP tests serve from: every scope, conflict and opt-out case.

Passwords are unique strings so the hygiene tests can look for them in logs and metrics.
"""

from tests.kit.objects import namespace, secret

PASSWORDS = (
    "pw-quay-7f3a",
    "pw-hub-91c2",
    "pw-5000-aa01",
    "pw-optout-3b7e",
    "pw-legacy-55d0",
    "pw-alpha-0c9e",
    "pw-cluster-e4f1",
    "pw-ghcr-b8a2",
    "pw-stray-6d13",
    "pw-mine-2a7c",
)
PROJECT = "pullpass.io/project"

OBJECTS = [
    namespace("pullpass-system"),
    namespace("team-a", {"pullpass.io/inject": "enabled", PROJECT: "alpha"}),
    namespace("team-b", {"pullpass.io/inject": "enabled", PROJECT: "beta"}),
    namespace("team-c", {"pullpass.io/inject": "enabled", PROJECT: "alpha"}),
    namespace("off", {PROJECT: "alpha"}),
    # team-a's own credentials (namespace scope), deliberately not in name order.
    secret("team-a", "quay", {"quay.io": ("u", PASSWORDS[0])}),
    secret("team-a", "hub", {"https://index.docker.io/v1/": ("u", PASSWORDS[1])}),
    secret("team-a", "private", {"registry.example.com:5000": ("u", PASSWORDS[2])}),
    secret(
        "team-a",
        "optout",
        {"ghcr.io": ("u", PASSWORDS[3])},
        annotations={"pullpass.io/inject": "false"},
    ),
    secret("team-a", "legacy", {"*.corp.example": ("u", PASSWORDS[4])}, legacy=True),
    # Sources in the credentials namespace.
    secret(
        "pullpass-system",
        "alpha-gcr",
        {"gcr.io": ("u", PASSWORDS[5])},
        labels={PROJECT: "alpha"},
    ),
    secret(
        "pullpass-system",
        "everyone",
        {"example.com/shared": ("u", PASSWORDS[6])},
        labels={"pullpass.io/scope": "cluster"},
    ),
    # team-b: a ghcr.io credential (so team-a gets a warning), a stray "cluster source" that must be
    # ignored, and team-c holds its own Secret under a source's name (a conflict).
    secret("team-b", "ghcr", {"ghcr.io": ("u", PASSWORDS[7])}),
    secret(
        "team-b",
        "stray",
        {"evil.example": ("u", PASSWORDS[8])},
        labels={"pullpass.io/scope": "cluster", PROJECT: "alpha"},
    ),
    secret("team-c", "alpha-gcr", {"other.example": ("u", PASSWORDS[9])}),
]
