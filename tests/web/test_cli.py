"""The command line: explain's JSON contract, certs, and one-line errors with exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kit.cli import ROOT, run

EXAMPLES = ROOT / "examples"


def explain_examples(*extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "explain",
        "--pod",
        str(EXAMPLES / "pod.yaml"),
        "--objects",
        str(EXAMPLES / "namespace.yaml"),
        "--objects",
        str(EXAMPLES / "credential.yaml"),
        *extra,
    )


def test_explain_examples_json_contract() -> None:
    result = explain_examples("-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "namespace": "team-a",
        "servedBy": "webhook (copies named in imagePullSecrets)",
        "imagePullSecrets": ["testquay"],
        "containers": [
            {
                "name": "app",
                "image": "quay.io/example/app:1.0",
                "registry": "quay.io",
                "credentials": [{"secret": "testquay", "key": "quay.io", "scope": "namespace"}],
            },
            {"name": "proxy", "image": "nginx:1.27", "registry": "docker.io", "credentials": []},
        ],
        "warnings": [],
    }


def test_explain_text_says_why() -> None:
    result = explain_examples()
    assert result.returncode == 0, result.stderr
    assert "uses testquay (namespace) via key quay.io" in result.stdout
    assert "imagePullSecrets to add: testquay" in result.stdout


def test_explain_namespace_absent_from_objects_counts_as_enabled(tmp_path: Path) -> None:
    pod = tmp_path / "pod.json"
    pod.write_text(
        json.dumps(
            {
                "kind": "Pod",
                "metadata": {"name": "x", "namespace": "team-a"},
                "spec": {"containers": [{"name": "a", "image": "quay.io/a/b"}]},
            }
        )
    )
    result = run(
        "explain", "--pod", str(pod), "--objects", str(EXAMPLES / "credential.yaml"), "-o", "json"
    )
    assert json.loads(result.stdout)["imagePullSecrets"] == ["testquay"]


def test_explain_never_prints_credential_data() -> None:
    result = explain_examples("-o", "json")
    assert "example-only" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("explain", "--pod", "missing.yaml", "--objects", "examples/credential.yaml"),
            "missing.yaml: cannot read",
        ),
        (
            (
                "explain",
                "--pod",
                "examples/credential.yaml",
                "--objects",
                "examples/credential.yaml",
            ),
            "expected one Pod",
        ),
        (
            ("explain", "--pod", "examples/pod.yaml", "--objects", "pyproject.toml"),
            "pyproject.toml: not valid YAML",
        ),
        (("explain", "--pod", "examples/pod.yaml", "-o", "xml"), "invalid choice"),
        (
            ("serve", "--objects", "examples/credential.yaml"),
            "--cert-file and --key-file are required",
        ),
        (("serve", "--port", "99999"), "not a port number"),
        (("serve", "--shutdown-delay", "61"), "not a duration from 0 to 60 seconds"),
        (("serve", "--max-key-length", "15"), "a number of characters from 16 to 4096"),
        (
            ("serve", "--admission=policy", "--objects", "examples/credential.yaml"),
            "--admission=policy writes to a cluster, not --objects",
        ),
        (("bogus",), "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_secret_data_names_the_file_and_secret(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: Secret\nmetadata: {name: s, namespace: n}\ntype: kubernetes.io/dockerconfigjson\n"
        "data: {.dockerconfigjson: '!!!'}\n"
    )
    result = run("explain", "--pod", "examples/pod.yaml", "--objects", str(bad))
    assert result.returncode == 2
    assert f"{bad}: Secret s:" in result.stderr
    assert result.stderr.count("\n") == 1


def test_flags_read_their_environment_variable(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "PULLPASS_PORT": "not-a-port"}
    result = run("serve", env=env)
    assert result.returncode == 2
    assert "not-a-port" in result.stderr
    env = {**os.environ, "PULLPASS_ADMISSION": "sidecar"}
    result = run("serve", env=env)
    assert result.returncode == 2
    assert "'sidecar'" in result.stderr


def test_certs_writes_a_usable_pair(tmp_path: Path) -> None:
    from cryptography import x509

    result = run("certs", "--out", str(tmp_path), "--host", "127.0.0.1", "--host", "pullpass.svc")
    assert result.returncode == 0, result.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["pullpass.svc"]
    assert (tmp_path / "tls.key").stat().st_mode & 0o077 == 0


def test_pullpass_console_script_and_module_agree() -> None:
    script = Path(sys.executable).parent / "pullpass"
    assert (
        subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False).stdout
        == run("--help").stdout
    )


def test_configuration_doc_lists_every_serve_flag() -> None:
    from app.shell.cli.main import build_parser, env_name

    doc = (ROOT / "docs" / "configuration.md").read_text()
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    for action in serve._actions:
        for flag in action.option_strings[:1]:
            if flag != "-h":
                assert f"| `{flag}` | `{env_name(flag)}`" in doc, flag


def test_explain_reports_project_scope_and_the_source() -> None:
    project = EXAMPLES / "project"
    args = (
        "explain",
        "--pod",
        str(project / "pod.yaml"),
        "--objects",
        str(project / "namespaces.yaml"),
        "--objects",
        str(project / "source.yaml"),
        "--credentials-namespace",
        "pullpass-system",
    )
    report = json.loads(run(*args, "-o", "json").stdout)
    assert report["imagePullSecrets"] == ["payments-registry"]
    assert report["containers"][0]["credentials"] == [
        {"secret": "payments-registry", "key": "registry.example.com", "scope": "project:payments"}
    ]
    text = run(*args).stdout
    assert "(project:payments, copy of pullpass-system/payments-registry)" in text


def test_explain_honours_a_strict_service_account_from_objects(tmp_path: Path) -> None:
    account = tmp_path / "sa.yaml"
    account.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": "default",
                    "namespace": "team-a",
                    "annotations": {"kubernetes.io/enforce-mountable-secrets": "true"},
                },
            }
        )
    )
    result = explain_examples("--objects", str(account), "-o", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["imagePullSecrets"] == []
    assert report["warnings"] == [
        "pullpass: ServiceAccount default does not list testquay, so it is not added"
    ]
