"""`--cert-host` / `PULLPASS_CERT_HOST`: the extra SANs the loopback webhook needs (no cluster)."""

from __future__ import annotations

import pytest

from app.shell.cli.main import parse
from app.shell.cli.usage import UsageError

SELF_MANAGED = ("serve", "--tls-secret=s", "--webhook-config=w", "--service=svc")


def test_flag_takes_a_comma_separated_list() -> None:
    args = parse([*SELF_MANAGED, "--cert-host=127.0.0.1, ::1,webhook.example"])
    assert args.cert_host == ["127.0.0.1", "::1", "webhook.example"]


def test_environment_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULLPASS_CERT_HOST", "127.0.0.1")
    assert parse(list(SELF_MANAGED)).cert_host == ["127.0.0.1"]


def test_absent_means_only_the_service_names() -> None:
    assert parse(list(SELF_MANAGED)).cert_host is None


@pytest.mark.parametrize("bad", [",", "a b", "x" * 254])
def test_bad_lists_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="--cert-host"):
        parse([*SELF_MANAGED, f"--cert-host={bad}"])
