"""Node suite wiring: one real node for the session, pullpass installed on it with helm."""

from tests.e2e.node.fixtures import (  # noqa: F401 - fixtures are found by name
    fresh_image,
    kubectl,
    namespace_with_credential,
    namespaces,
    node,
    pullpass,
    registry_user,
    release,
)
