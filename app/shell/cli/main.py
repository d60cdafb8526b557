"""`pullpass` command line: flags, their PULLPASS_* environment variables, and exit codes.

Every flag reads its default from `PULLPASS_<FLAG>`, so a Helm chart or a shell can configure
the same thing the same way. Usage errors print one line and exit 2.
"""

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

from app.core import labels
from app.core.credentials import keyset, serving_mode
from app.core.credentials.exchange import DEFAULT_AUDIENCE
from app.shell.cli.usage import UsageError
from app.shell.cluster.errors import ClusterConfigError

EXIT_USAGE = 2
PLUGIN = "kubectl-pullpass"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def env_name(flag: str) -> str:
    return "PULLPASS_" + flag.lstrip("-").replace("-", "_").upper()


def _option(parser: argparse.ArgumentParser, flag: str, default: Any = None, **kw: Any) -> None:
    """An option whose default comes from its environment variable when that is set."""
    env = env_name(flag)
    value = os.environ.get(env)
    action = kw.get("action")
    if value is not None:
        if action == "append":
            default = [v for v in value.split(os.pathsep) if v]
        elif action is argparse.BooleanOptionalAction:
            default = _boolean(env, value)
        else:
            default = value
    help_text = kw.pop("help", "")
    shown = "" if default in (None, []) else f" (default: {default})"
    kw["help"] = f"{help_text}{shown} [env {env}]"
    if action == "append":
        kw["default"] = None
        parser.set_defaults(**{flag.lstrip("-").replace("-", "_") + "_env": default})
    else:
        kw["default"] = default
    parser.add_argument(flag, **kw)


def _boolean(env: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"pullpass: {env} must be true or false, not {value[:40]!r}")


def _whole(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, else `what` names the bound."""

    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what}")
        return int(text)

    return parse


_port = _whole(1, 65535, "a port number (1-65535)")
_seconds = _whole(1, 3600, "a duration from 1 to 3600 seconds")
_drain_seconds = _whole(0, 60, "a duration from 0 to 60 seconds")
_timeout_seconds = _whole(1, 30, "a timeout from 1 to 30 seconds")
_connections = _whole(16, 65536, "a number of connections from 16 to 65536")
_per_minute = _whole(1, 1000, "a number from 1 to 1000 a minute")
_days = _whole(1, 3650, "a number of days from 1 to 3650")
_keys_per_secret = _whole(1, 10_000, "a number of keys from 1 to 10000")
_keys_total = _whole(1, 1_000_000, "a number of keys from 1 to 1000000")
_key_length = _whole(16, 4096, "a number of characters from 16 to 4096")


def _admission(text: str) -> str:
    """A type, not `choices`, so a bad PULLPASS_ADMISSION is refused like a bad flag."""
    if text not in ("webhook", "policy"):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is neither webhook nor policy")
    return text


def _hosts(text: str) -> list[str]:
    """Comma-separated, so an IPv6 address needs no escaping."""
    hosts = [h.strip() for h in text.split(",") if h.strip()]
    if not hosts or any(len(h) > 253 or any(c.isspace() for c in h) for h in hosts):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a comma-separated list of names")
    return hosts


def _guard_options(serve: argparse.ArgumentParser) -> None:
    """How the webhook port stops, and the guards an operator may tune."""
    _option(
        serve,
        "--shutdown-delay",
        "5",
        type=_drain_seconds,
        help="seconds /mutate keeps answering after SIGTERM, each answer closing its "
        "connection, so that no review already sent is lost",
    )
    _option(
        serve,
        "--webhook-timeout",
        "3",
        type=_timeout_seconds,
        help="the webhook's timeoutSeconds: a patch decided later is counted late, not patched",
    )
    _option(
        serve,
        "--max-connections",
        "2048",
        type=_connections,
        help="open connections per port; past this, the one idle the longest is closed",
    )


def build_parser() -> argparse.ArgumentParser:
    # As a kubectl plugin (kubectl-pullpass), usage reads as the command the user typed.
    prog = "kubectl pullpass" if Path(sys.argv[0]).name == PLUGIN else "pullpass"
    parser = _Parser(prog=prog, description="Registry credentials for every Pod.")
    parser.add_argument("--version", action="version", version=f"pullpass {version('pullpass')}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the admission webhook")
    _option(
        serve,
        "--admission",
        "webhook",
        type=_admission,
        metavar="{webhook,policy}",
        help="webhook: serve /mutate; policy: keep the MutatingAdmissionPolicies' parameters",
    )
    _option(serve, "--address", "0.0.0.0", help="address to listen on")
    _option(serve, "--port", "8443", type=_port, help="HTTPS port of /mutate")
    _option(serve, "--metrics-port", "8080", type=_port, help="HTTP port of health and metrics")
    _guard_options(serve)
    _option(serve, "--cert-file", help="serving certificate (PEM), reloaded on change")
    _option(serve, "--key-file", help="serving key (PEM), reloaded on change")
    _option(
        serve,
        "--tls-secret",
        help="self-managed certificates: keep a CA and serving pair in this Secret",
    )
    _option(serve, "--webhook-config", help="self-managed: MutatingWebhookConfiguration to patch")
    _option(serve, "--service", help="self-managed: Service whose DNS names the cert covers")
    _option(serve, "--cert-dir", help="self-managed: where to write tls.crt and tls.key")
    _option(serve, "--cert-days", "365", type=_days, help="self-managed: serving cert lifetime")
    _option(
        serve,
        "--cert-host",
        type=_hosts,
        metavar="NAME[,NAME...]",
        help="self-managed: more DNS names or IPs the serving cert covers, comma-separated",
    )
    _option(
        serve,
        "--cert-check-interval",
        "60",
        type=_seconds,
        help="self-managed: seconds between checks",
    )
    _option(serve, "--kubeconfig", help="kubeconfig file; default: KUBECONFIG or in-cluster")
    _option(
        serve,
        "--objects",
        action="append",
        metavar="FILE",
        help="serve from the Namespaces, Secrets and ServiceAccounts in FILE (repeatable)",
    )
    _scope_options(serve)
    _option(
        serve,
        "--max-keys-per-secret",
        str(keyset.PER_SECRET),
        type=_keys_per_secret,
        help="registry keys indexed of one Secret outside the credentials namespace; the rest "
        "are left out, with a Warning Event on the Secret",
    )
    _option(
        serve,
        "--max-keys-total",
        str(keyset.TOTAL),
        type=_keys_total,
        help="distinct registry keys indexed in all; past it, Secrets outside the credentials "
        "namespace add no new key",
    )
    _option(
        serve,
        "--max-key-length",
        str(keyset.LENGTH),
        type=_key_length,
        help="characters of the longest registry key indexed from a Secret outside the "
        "credentials namespace; longer keys are left out, with a Warning Event on the Secret",
    )
    _option(
        serve,
        "--replicate",
        True,
        action=argparse.BooleanOptionalAction,
        help="copy project and cluster sources into namespaces (on the Lease holder only)",
    )
    _option(
        serve,
        "--lease-name",
        "pullpass",
        help="Lease that elects the replica that replicates and repairs",
    )
    _option(serve, "--lease-namespace", help="namespace of the Lease; default: pullpass's own")
    _option(serve, "--lease-duration", "15", type=_seconds, help="Lease duration in seconds")
    _option(serve, "--identity", help="this replica's name in the Lease; default: POD_NAME or host")
    _credentials_options(serve)
    _leader_options(serve)
    _option(serve, "--log-level", "info", choices=["debug", "info", "warning", "error"])

    explain = commands.add_parser("explain", help="show what the webhook would add to a pod")
    explain.add_argument("--pod", required=True, metavar="FILE", help="the Pod, YAML or JSON")
    explain.add_argument("-n", "--namespace", help="the Pod's namespace when its file names none")
    _source_options(explain, "Namespaces, Secrets and ServiceAccounts")

    audit = commands.add_parser("audit", help="show what pullpass would change in namespaces")
    audit.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NS",
        help="audit NS even if not enabled (repeatable); default: every enabled namespace",
    )
    _source_options(audit, "Namespaces, Secrets, ServiceAccounts, Pods and workloads")

    policy = commands.add_parser("policy", help="policy mode: print the API server's objects")
    policy.add_argument("action", choices=["manifests"])
    _option(policy, "--kubeconfig", help="kubeconfig whose namespace is pullpass's own")
    _scope_options(policy)
    _option(
        policy,
        "--warnings",
        True,
        action=argparse.BooleanOptionalAction,
        help="include the warnings' ValidatingAdmissionPolicy (its cost: docs/performance.md)",
    )

    certs = commands.add_parser("certs", help="make a CA and a serving certificate")
    certs.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    certs.add_argument(
        "--host", required=True, action="append", metavar="NAME", help="DNS name or IP (repeatable)"
    )
    certs.add_argument("--days", type=int, default=365, help="serving certificate lifetime")
    return parser


def _source_options(parser: argparse.ArgumentParser, objects: str) -> None:
    """Files or a cluster (kubectl's `--kubeconfig` and `--context`), scope flags, output."""
    _option(
        parser,
        "--objects",
        action="append",
        metavar="FILE",
        help=f"{objects} to use instead of the cluster (repeatable)",
    )
    _option(parser, "--kubeconfig", help="kubeconfig file when reading the cluster")
    parser.add_argument("--context", help="kubeconfig context when reading the cluster")
    _scope_options(parser)
    _option(
        parser,
        "--serving",
        serving_mode.WEBHOOK,
        choices=serving_mode.CHOICES,
        help="the modes the installation runs, to say which serves each namespace",
    )
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")


def _credentials_options(serve: argparse.ArgumentParser) -> None:
    """Secretless mode: the port the kubelets' credential provider plugin calls."""
    _option(
        serve,
        "--credentials-port",
        type=_port,
        help="secretless mode: HTTPS port of POST /credentials (client certificate required); "
        "unset: off",
    )
    _option(
        serve,
        "--credentials-audience",
        DEFAULT_AUDIENCE,
        help="secretless mode: the audience of the pod tokens the kubelet sends",
    )
    _option(
        serve,
        "--client-ca-file",
        help="secretless mode: CA (PEM) of the cluster's client certificates, which verifies "
        "the kubelet calling",
    )
    _option(
        serve,
        "--credentials-cache-seconds",
        "30",
        type=_seconds,
        help="secretless mode: how long the kubelet may reuse an answer, so the bound within "
        "which a rotated or revoked credential stops being used for new pulls",
    )


def _leader_options(serve: argparse.ArgumentParser) -> None:
    """What the Lease holder does besides replicating: repair, and the detection of pods
    admitted without their credentials."""
    _option(
        serve,
        "--repair",
        False,
        action=argparse.BooleanOptionalAction,
        help="evict controller-owned pods stuck pulling without a credential pullpass now adds "
        "(on the Lease holder only)",
    )
    _option(
        serve,
        "--repair-after",
        "60",
        type=_seconds,
        help="repair: seconds a pod must have been failing to pull",
    )
    _option(
        serve,
        "--repair-rate",
        "10",
        type=_per_minute,
        help="repair: evictions a minute (a burst of this many, then one every 60/RATE s)",
    )
    _option(
        serve,
        "--detect-missing",
        False,
        action=argparse.BooleanOptionalAction,
        help="report each new pending pod admitted without credentials pullpass would have "
        "added: a metric and an Event on the pod (on the Lease holder only)",
    )
    _option(
        serve,
        "--unserved-namespaces",
        type=_hosts,
        metavar="NS[,NS...]",
        help="namespaces the API server never asks the webhook about (its exclusions), "
        "comma-separated: detect-missing does not judge their pods, and secretless mode "
        "gives their pods nothing",
    )


def _scope_options(parser: argparse.ArgumentParser) -> None:
    _option(
        parser,
        "--credentials-namespace",
        help="namespace holding project and cluster sources; default: pullpass's own",
    )
    _option(parser, "--project-label", labels.PROJECT, help="namespace label naming its project")
    _option(
        parser,
        "--rancher",
        False,
        action=argparse.BooleanOptionalAction,
        help=(
            f"Rancher preset: a namespace's project is the project part of its annotation "
            f"{labels.RANCHER_PROJECT}; the label of that name counts only when it agrees"
        ),
    )


def parse(argv: Sequence[str]) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if hasattr(args, "objects_env"):
        args.objects = args.objects if args.objects is not None else args.objects_env
        del args.objects_env
    if args.command == "serve":
        _check_serve(args)
    if getattr(args, "rancher", False):
        args.project_label = labels.RANCHER_PROJECT
    return args


def _check_serve(args: argparse.Namespace) -> None:
    """Every combination `serve` refuses, checked before the server's modules load (~1.5 s)."""
    if args.lease_duration < 3:
        raise UsageError("pullpass serve: --lease-duration must be at least 3 seconds")
    if args.repair and args.objects:
        raise UsageError("pullpass serve: --repair needs a cluster, not --objects")
    if args.detect_missing and args.objects:
        raise UsageError("pullpass serve: --detect-missing needs a cluster, not --objects")
    if args.admission == "policy" and args.objects:
        raise UsageError("pullpass serve: --admission=policy writes to a cluster, not --objects")
    from_files = args.admission == "webhook" and not args.tls_secret
    if from_files and not (args.cert_file and args.key_file):
        raise UsageError("pullpass serve: --cert-file and --key-file are required")
    if args.tls_secret and not args.service:
        raise UsageError("pullpass serve: --tls-secret needs --service")
    # Without a webhook to trust it (secretless mode alone), the CA goes into no caBundle.
    no_webhook = args.credentials_port is not None
    if args.tls_secret and not (args.webhook_config or no_webhook):
        raise UsageError("pullpass serve: --tls-secret needs --webhook-config")
    if args.credentials_port is not None:
        if args.admission != "webhook":
            raise UsageError("pullpass serve: --credentials-port needs --admission=webhook")
        if not args.client_ca_file:
            raise UsageError("pullpass serve: --credentials-port needs --client-ca-file")
        if args.objects:
            raise UsageError("pullpass serve: --credentials-port needs a cluster, not --objects")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        if args.command == "serve":
            from app.shell.cli.serve import serve

            return serve(args)
        if args.command == "explain":
            from app.shell.cli.explain import explain

            return explain(args)
        if args.command == "audit":
            from app.shell.cli.audit import audit

            return audit(args)
        if args.command == "policy":
            from app.shell.cli.policy import policy

            return policy(args)
        from app.shell.cli.certs import certs

        return certs(args)
    except (UsageError, ClusterConfigError) as error:
        print(str(error).splitlines()[0] if str(error) else "pullpass: error", file=sys.stderr)
        return EXIT_USAGE
