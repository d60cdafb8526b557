"""Unit-suite wiring: every test starts with the core's caches empty, and a Hypothesis profile
for mutation testing.

A cached result lets a test pass without running the code it is about: with `parse_key`'s
lru_cache or dockercfg's known configs already warm from an earlier test, a mutant in `go_url`
or `_decode` is never executed, and mutmut never sees which tests reach that code. Clearing them
costs microseconds.

`--hypothesis-profile=mutation` (`make mutation`) runs a few fixed examples per property on top
of the `@example` cases, with no deadline (a loaded machine must not kill a mutant by timing) and
no shrinking (a failure is a kill, the smallest one is not needed).
"""

import pytest
from hypothesis import HealthCheck, Phase, settings

from app.core.credentials import dockercfg
from app.core.images.keyring import parse_key

settings.register_profile(
    "mutation",
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
    phases=(Phase.explicit, Phase.generate),
)


@pytest.fixture(autouse=True)
def _cold_caches() -> None:
    parse_key.cache_clear()
    dockercfg._known.clear()
