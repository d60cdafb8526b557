"""The locked supply chain: every install comes from a lock file with hashes.

pyproject.toml says which versions pullpass works with; the locks (written by scripts/lock) say
which files are installed. A dependency added to pyproject.toml but not locked, a lock line
without hashes, or an install step that skips --require-hashes would let an install take
whatever the index serves that day.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$")


def canonicalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Requirement:
    """A pyproject requirement: name and comma-separated clauses (`>=X`, `<Y`, `==Z`).

    The `packaging` library would do, but its name is also this suite's (tests/packaging).
    """

    def __init__(self, text: str) -> None:
        match = SPEC.match(text.replace(" ", ""))
        assert match, text
        self.name = match[1]
        self.clauses = [
            re.match(r"(==|>=|<=|<|>)(.+)", c).groups() for c in match[2].split(",") if c
        ]  # type: ignore[union-attr]

    def __str__(self) -> str:
        return self.name + ",".join(op + v for op, v in self.clauses)

    def allows(self, version: str) -> bool:
        have = _release(version)
        checks = {
            "==": lambda want: have == want,
            ">=": lambda want: have >= want,
            "<=": lambda want: have <= want,
            "<": lambda want: have < want,
            ">": lambda want: have > want,
        }
        return all(checks[op](_release(v)) for op, v in self.clauses)


def _release(version: str) -> tuple[int, ...]:
    """The numeric release part, padded so 1.0 == 1.0.0."""
    numbers = [int(n) for n in re.match(r"[0-9.]+", version)[0].strip(".").split(".")]  # type: ignore[index]
    return tuple(numbers + [0] * (6 - len(numbers)))


LOCKS = ROOT / "locks"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
BUILD = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]

# Each lock and what it must satisfy.
WANTED = {
    "build.txt": BUILD,
    "runtime.txt": RUNTIME,
    "dev.txt": RUNTIME + DEV,
    "dev-py313.txt": RUNTIME + DEV,
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def pins(lock: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of each requirement in a pip-compile lock."""
    found: dict[str, tuple[str, list[str]]] = {}
    text = (LOCKS / lock).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match[1])] = (match[2], re.findall(r"--hash=(\S+)", line))
        else:
            assert not line.strip() or line.lstrip().startswith("#"), f"{lock}: {line!r}"
    return found


@pytest.mark.parametrize("lock", sorted(WANTED))
def test_every_package_in_the_lock_is_pinned_with_sha256_hashes(lock: str) -> None:
    locked = pins(lock)
    assert locked
    for name, (_, hashes) in locked.items():
        assert hashes, f"{lock}: {name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (lock, name)


@pytest.mark.parametrize("lock", sorted(WANTED))
def test_the_lock_covers_every_dependency_in_pyproject(lock: str) -> None:
    locked = pins(lock)
    for requirement in WANTED[lock]:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{lock} does not lock {requirement}"
        version = locked[name][0]
        assert requirement.allows(version), (
            f"{lock} pins {name}=={version}, outside pyproject's {requirement}"
        )


@pytest.mark.parametrize("lock", ["dev.txt", "dev-py313.txt"])
def test_ci_tests_the_versions_the_image_runs(lock: str) -> None:
    """The dev locks hold runtime.txt's very pins (scripts/lock compiles them against it)."""
    dev = pins(lock)
    for name, (version, hashes) in pins("runtime.txt").items():
        assert dev[name] == (version, hashes), f"{lock} and runtime.txt differ on {name}"


def test_every_runtime_dependency_has_an_upper_bound() -> None:
    """Below the next major version: a major upgrade is a decision, made with scripts/lock."""
    for requirement in RUNTIME + BUILD:
        assert any(op in {"<", "=="} for op, _ in requirement.clauses), requirement


def test_uvicorn_starts_at_the_release_that_takes_ssl_context_factory() -> None:
    [uvicorn] = [r for r in RUNTIME if r.name == "uvicorn"]
    assert not uvicorn.allows("0.46.0")
    assert uvicorn.allows("0.47.0")


def test_build_in_is_pyprojects_build_requirements_and_pip() -> None:
    lines = [
        line
        for line in (LOCKS / "build.in").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines == ["pip", *PYPROJECT["build-system"]["requires"]]


def _install_lines(text: str) -> list[str]:
    """Each `pip ... install ...` command, continuation lines joined."""
    joined = text.replace("\\\n", " ")
    return [c for c in re.split(r"&&|\n", joined) if re.search(r"\bpip\b.*\binstall\b", c)]


@pytest.mark.parametrize("path", ["Dockerfile", "Makefile"])
def test_every_install_is_hashed_or_takes_no_dependencies(path: str) -> None:
    installs = _install_lines((ROOT / path).read_text())
    assert installs
    for command in installs:
        hashed = re.search(r"--require-hashes -r locks/\S+\.txt", command)
        alone = "--no-deps" in command
        assert hashed or alone, f"{path}: {command.strip()}"
        if alone and "-e ." in command:
            assert "--no-build-isolation" in command, command


def test_the_image_installs_its_dependencies_and_build_backend_from_the_locks() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "install --require-hashes -r locks/runtime.txt" in dockerfile
    assert "install --require-hashes -r locks/build.txt" in dockerfile
    assert "wheel --no-deps --no-build-isolation" in dockerfile
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in ("locks/build.txt", "locks/runtime.txt", "scripts/sbom.py"):
        assert f"!{needed}" in ignore, f".dockerignore keeps {needed} out of the build"


def test_the_default_base_image_is_pinned_by_digest() -> None:
    [default] = re.findall(r"^ARG PYTHON_BASE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", default), default
