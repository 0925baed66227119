"""CurveZMQ keys for nodes that join the switch from another host, and the ZAP gate.

Everything lives in the switch folder's `keys/` (mode 0700), each file mode 0600:

    switch.toml      the switch's keypair (made the first time it is needed)
    allowed          the allow-list: one `NAME PUBLIC-KEY` line per node that may join
    NAME.keys        node NAME's bundle: the switch's public key and NAME's keypair

`mk switch invite NAME` makes NAME's keypair, puts its public key on the allow-list and
writes NAME.keys, which the operator copies to the other host for
`mk up --node NAME --join tcp://HOST:PORT --keys NAME.keys`. Keys are Z85 text
(zmq.curve_keypair); a bundle is TOML, read by the node's cable (hw/nic_cable.py).

`Gate` is the switch's ZAP handler (zmq.auth's ThreadAuthenticator: its own thread
answers libzmq's ZAP requests). It denies by default: only the CURVE mechanism, and only
a key on the allow-list, which it reads at each handshake (so an invite or a revoke
counts at once). The join listener admits any listed key, and the port of a joined node
only that node's own key. Each refusal is logged as a refusal: the peer's address, the
key, the reason.
"""
from __future__ import annotations

import logging
import os
import re
import tomllib

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from . import ClusterError

__all__ = ["Keys", "Gate", "NAME_RE", "write_private", "read_bundle", "JOIN_DOMAIN"]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
JOIN_DOMAIN = "join"                    # the listener's ZAP domain; a port's is port:NAME
_ZAP_VERSION = b"1.0"


def write_private(path: str, text: str) -> None:
    """Write `text` to `path` as a file only its owner may read (0600), atomically."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def read_bundle(path: str) -> dict[str, str]:
    """A node's bundle (node, switch_public, public, secret); ClusterError if unusable."""
    try:
        with open(path, "rb") as f:
            b = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ClusterError(f"cannot read keys {path}: {e}") from None
    for k in ("node", "switch_public", "public", "secret"):
        if not isinstance(b.get(k), str) or (k != "node" and len(b[k]) != 40):
            raise ClusterError(f"{path} is not an mk keys bundle (no valid {k!r})")
    return b


class Keys:
    """The switch folder's keys: its own keypair, the allow-list, the bundles."""

    def __init__(self, folder: str):
        self.dir = os.path.join(folder, "keys")

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _ensure_dir(self) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)

    def switch_keypair(self) -> tuple[str, str]:
        """(public, secret) of the switch, made on first use."""
        self._ensure_dir()
        path = self.path("switch.toml")
        if not os.path.exists(path):
            public, secret = (k.decode() for k in zmq.curve_keypair())
            write_private(path, f'# the switch\'s CurveZMQ keypair: keep it secret\n'
                                f'public = "{public}"\nsecret = "{secret}"\n')
        with open(path, "rb") as f:
            k = tomllib.load(f)
        return k["public"], k["secret"]

    def allowed(self) -> dict[str, str]:
        """The allow-list: public key -> node name (empty when there is none)."""
        try:
            with open(self.path("allowed")) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return {}
        out = {}
        for line in lines:
            parts = line.split()            # (Z85 has "#": only a whole line is a comment)
            if len(parts) == 2 and not line.startswith("#") and len(parts[1]) == 40:
                out[parts[1]] = parts[0]
        return out

    def _write_allowed(self, entries: dict[str, str]) -> None:
        lines = ["# nodes that may join the switch: NAME PUBLIC-KEY (Z85)"]
        lines += [f"{name} {key}" for key, name in sorted(entries.items(), key=lambda e: e[1])]
        write_private(self.path("allowed"), "\n".join(lines) + "\n")

    def invite(self, name: str) -> str:
        """A new keypair for node `name`, on the allow-list (replacing an older one);
        the path of its bundle."""
        if not NAME_RE.fullmatch(name):
            raise ClusterError(f"bad node name {name!r}")
        switch_public, _ = self.switch_keypair()
        public, secret = (k.decode() for k in zmq.curve_keypair())
        entries = {k: n for k, n in self.allowed().items() if n != name}
        entries[public] = name
        self._write_allowed(entries)
        bundle = self.path(f"{name}.keys")
        write_private(bundle, f'# node {name}\'s keys for the mk switch: keep them secret\n'
                              f'node = "{name}"\nswitch_public = "{switch_public}"\n'
                              f'public = "{public}"\nsecret = "{secret}"\n')
        return bundle

    def revoke(self, name: str) -> bool:
        """Take node `name` off the allow-list; whether it was on it."""
        entries = self.allowed()
        kept = {k: n for k, n in entries.items() if n != name}
        if len(kept) == len(entries):
            return False
        self._write_allowed(kept)
        try:
            os.unlink(self.path(f"{name}.keys"))
        except FileNotFoundError:
            pass
        return True


class Gate(ThreadAuthenticator):
    """The ZAP handler: CURVE keys on the allow-list pass, everything else is refused."""

    def __init__(self, ctx: zmq.Context, keys: Keys, log: logging.Logger):
        super().__init__(ctx, log=logging.getLogger("mk.switch.zap"))
        self.keys, self.refusals = keys, log
        self.refused = 0

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        """Answer one ZAP request (RFC 27): 200 with the node's name as User-Id, or 400."""
        if len(msg) < 6:
            self.refusals.warning("refused a malformed ZAP request")
            if len(msg) >= 2:
                self._send_zap_reply(msg[1], b"400", b"malformed request")
            return
        version, request_id, domain, address, _identity, mechanism = msg[:6]
        where = address.decode(errors="replace")
        if version != _ZAP_VERSION or mechanism != b"CURVE" or len(msg) != 7:
            return self._refuse(request_id, where, "-", f"mechanism {mechanism.decode(errors='replace')}")
        key = z85.encode(msg[6]).decode()
        name = self.keys.allowed().get(key)
        want = domain.decode(errors="replace")
        if name is None:
            return self._refuse(request_id, where, key, "key not on the allow-list")
        if want.startswith("port:") and want[5:] != name:
            return self._refuse(request_id, where, key, f"{name}'s key, on {want[5:]}'s port")
        self._send_zap_reply(request_id, b"200", b"OK", name)

    def _refuse(self, request_id: bytes, where: str, key: str, why: str) -> None:
        self.refused += 1
        self.refusals.warning("refused a connection from %s (key %s): %s", where, key, why)
        self._send_zap_reply(request_id, b"400", why.encode()[:255])
