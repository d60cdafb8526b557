"""The private registry the node pulls from: distribution with TLS and htpasswd, on the node
namespace's 127.0.0.1:5000.

Why: pullpass's promise is a kubelet pull that succeeds only with the credential it injected, so
the registry must refuse anonymous pulls (htpasswd basic auth) and speak TLS that containerd
verifies (a CA of the harness's own, named in containerd's `hosts.toml`). It listens on the
namespace's loopback, which containerd and skopeo share once inside; no image registry on the
internet is involved. Images arrive as docker archives pushed with skopeo from inside the
namespace. Users and passwords change at run time (`set_password`): distribution re-reads the
htpasswd file when it changes.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from localcluster.certificates import issue, new_ca, write_pair
from localcluster.errors import ClusterError
from localcluster.netns import NetworkNamespace
from localcluster.processes import Component, run_command

HOST = "127.0.0.1:5000"
PUSHER = "pusher"


class Registry:
    """`docker-registry serve` inside `netns`; `users` maps user name to password."""

    def __init__(
        self,
        workdir: Path,
        netns: NetworkNamespace,
        *,
        log: Path,
        users: dict[str, str] | None = None,
        binary: str = "/usr/bin/docker-registry",
    ) -> None:
        self.dir = workdir
        self.netns = netns
        self.host = HOST
        self.users: dict[str, str] = {PUSHER: secrets.token_urlsafe(18), **(users or {})}
        ca = new_ca("pullpass-node-registry-ca")
        self.ca_pem = ca.cert_pem
        self.ca_dir = workdir / "ca"
        self.ca_file, _ = write_pair(ca, self.ca_dir, "ca")
        (self.ca_dir / "ca.key").unlink()  # skopeo's cert dir must hold the CA only
        serving = issue(ca, "pullpass-node-registry", hosts=["127.0.0.1", "localhost"])
        cert, key = write_pair(serving, workdir / "tls", "registry")
        self.htpasswd = workdir / "htpasswd"
        self._write_htpasswd()
        self.config = workdir / "config.yml"
        self.config.write_text(
            "version: 0.1\n"
            "log:\n  level: info\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
            "  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            "http:\n"
            f"  addr: {HOST}\n"
            f"  secret: {secrets.token_hex(16)}\n"
            f"  tls:\n    certificate: {cert}\n    key: {key}\n"
            "auth:\n"
            f"  htpasswd:\n    realm: pullpass-node\n    path: {self.htpasswd}\n"
        )
        self.component = Component(
            "registry", [binary, "serve", str(self.config)], log, wrapper=netns.wrapper()
        )

    # -- users -------------------------------------------------------------------------------

    def _write_htpasswd(self) -> None:
        lines = []
        for user, password in self.users.items():
            # bcrypt, as distribution requires; the password goes through stdin, not argv.
            done = run_command(["htpasswd", "-niB", user], input=password + "\n")
            lines.append(done.stdout.strip())
        temporary = self.htpasswd.with_suffix(".new")
        temporary.write_text("\n".join(lines) + "\n")
        temporary.replace(self.htpasswd)

    def set_password(self, user: str, password: str) -> None:
        """Add `user` or change its password, as a registry admin does (htpasswd)."""
        self.users[user] = password
        self._write_htpasswd()

    # -- HTTP --------------------------------------------------------------------------------

    def status(self, path: str, user: str | None = None, password: str | None = None) -> int:
        """HTTP status of GET https://HOST`path`, as `user` or anonymous; 0 when unreachable."""
        request = urllib.request.Request(f"https://{HOST}{path}")
        request.add_header("Accept", "application/vnd.docker.distribution.manifest.v2+json")
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cadata=self.ca_pem.decode())

        def fetch() -> int:
            try:
                with urllib.request.urlopen(request, timeout=5, context=context) as answer:
                    return int(answer.status)
            except urllib.error.HTTPError as error:
                return int(error.code)
            except OSError:
                return 0

        return self.netns.call(fetch)

    def manifest_status(
        self, image: str, user: str | None = None, password: str | None = None
    ) -> int:
        """Status of the manifest GET a pull of `HOST/repo:tag` starts with."""
        assert image.startswith(HOST + "/"), image
        repository, _, tag = image[len(HOST) + 1 :].rpartition(":")
        return self.status(f"/v2/{repository}/manifests/{tag}", user, password)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        self.component.start()
        # Up, and refusing anonymous clients.
        self.component.wait_until(lambda: self.status("/v2/") == 401, timeout, "serving /v2/")

    def _skopeo_copy(self, source: str, image: str, timeout: float) -> str:
        if not image.startswith(HOST + "/"):
            raise ClusterError(f"{image} is not in the private registry {HOST}")
        auth = base64.b64encode(f"{PUSHER}:{self.users[PUSHER]}".encode()).decode()
        authfile = self.dir / "pusher-auth.json"
        authfile.write_text(json.dumps({"auths": {HOST: {"auth": auth}}}))
        authfile.chmod(0o600)
        self.netns.run(
            [
                "skopeo",
                "--insecure-policy",  # no trust policy file needed: a local copy of local files
                "copy",
                "--quiet",
                f"--authfile={authfile}",
                f"--src-cert-dir={self.ca_dir}",
                f"--dest-cert-dir={self.ca_dir}",
                source,
                f"docker://{image}",
            ],
            timeout=timeout,
        )
        return image

    def push(self, archive: Path, image: str, timeout: float = 600) -> str:
        """`skopeo copy docker-archive:ARCHIVE docker://IMAGE` from inside the namespace."""
        return self._skopeo_copy(f"docker-archive:{archive}", image, timeout)

    def copy(self, source: str, image: str, timeout: float = 120) -> str:
        """Another name for an image already in the registry (a new repository or tag)."""
        return self._skopeo_copy(f"docker://{source}", image, timeout)

    def stop(self) -> None:
        self.component.stop(grace=5)
