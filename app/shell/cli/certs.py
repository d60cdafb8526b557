"""`pullpass certs`: a CA and a serving certificate for local use and tests."""

import argparse
import datetime
from pathlib import Path

from app.core.pki import issue, new_ca
from app.shell.cli.usage import UsageError


def certs(args: argparse.Namespace) -> int:
    out = Path(args.out)
    now = datetime.datetime.now(datetime.UTC)
    ca = new_ca(max(args.days, 1) * 2, now=now)
    serving = issue(ca, args.host, max(args.days, 1), now=now)
    files = {"ca.crt": ca.cert, "ca.key": ca.key, "tls.crt": serving.cert, "tls.key": serving.key}
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, pem in files.items():
            path = out / name
            path.write_bytes(pem)
            if name.endswith(".key"):
                path.chmod(0o600)
    except OSError as error:
        raise UsageError(f"pullpass certs: cannot write {out}: {error.strerror}") from None
    print(f"wrote {', '.join(files)} to {out}")
    return 0
