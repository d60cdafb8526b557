"""The pod network: one bridge inside the node's network namespace, host-local addresses.

Why these settings: a loopback-only CNI config cannot address ordinary pods. The bridge is the
pods' gateway (`isGateway`), so pods reach the node address and, through kube-proxy's rules,
Service IPs such as the API server's; `hairpinMode` lets a pod reach itself through a Service;
`ipMasq` is off because nothing is to leave the namespace, which has no route out anyway. The
IPAM state goes under the work directory instead of /var/lib/cni.
"""

from __future__ import annotations

import json
from pathlib import Path

POD_CIDR = "10.244.0.0/24"
BRIDGE = "cni0"
NETWORK = "pullpass-node"


def write_conflist(conf_dir: Path, state_dir: Path, subnet: str = POD_CIDR) -> Path:
    """The one conflist containerd's CRI plugin reads from `conf_dir`."""
    conflist = {
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(state_dir / "ipam"),
                },
            }
        ],
    }
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / "10-pullpass-node.conflist"
    path.write_text(json.dumps(conflist, indent=2))
    return path
