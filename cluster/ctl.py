"""The switch's control protocol: what the operator's `mk` and a joining node may ask.

Requests are msgpack maps `{"op": NAME, ...}`; each gets one reply map, `{"error": TEXT}`
for anything wrong (an unknown op, a missing or bad field, an unknown node): the switch
never dies of a request. Two doors:

  control.sock (local, the owner's alone):
    status                          -> ports, counters, impairments, learned addresses
    add      name site              -> endpoint     a local node's port (ipc)
    remove   name                   -> ports        how many are left
    link     name [state up|down] [loss dup reorder delay seed clear]
                                    -> the port as `status` shows it
    capture  on                     -> pcap         the capture file, or None
    listen   endpoint               -> listen       accept joins on tcp://HOST:PORT
    stop                            -> {}
  the TCP listener (CURVE; the key's name, from the allow-list, is the User-Id):
    join     name site              -> port         the TCP port of name's cable
    leave    name                   -> {}
A joining node may only join or leave as the name its key was issued to.
"""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from . import ClusterError
from .impair import Impairment
from .keys import NAME_RE

if TYPE_CHECKING:
    from .switch import Switch

__all__ = ["Control", "MAX_SITE"]

log = logging.getLogger("mk.switch")
MAX_SITE = 0xFFFF                       # a site is 16 bits of the MAC (52:54:00:00:SS:SS)


def _name(req: dict) -> str:
    name = req.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ClusterError(f"bad node name {name!r}")
    return name


def _site(req: dict) -> int:
    site = req.get("site")
    if not isinstance(site, int) or isinstance(site, bool) or not 1 <= site <= MAX_SITE:
        raise ClusterError(f"a site is 1..{MAX_SITE}, not {site!r}")
    return site


class Control:
    """Request handlers over one `Switch`."""

    def __init__(self, switch: "Switch"):
        self.sw = switch
        self.local = {"status": self.status, "add": self.add, "remove": self.remove,
                      "link": self.link, "capture": self.capture, "listen": self.listen,
                      "stop": self.stop}
        self.remote = {"join": self.join, "leave": self.leave}

    def handle(self, req: Any, user: str | None = None) -> dict:
        """The reply to one request; `user` is the node a remote request comes from."""
        if not isinstance(req, dict) or not isinstance(req.get("op"), str):
            return {"error": "a request is a map with an 'op'"}
        ops = self.local if user is None else self.remote
        handler = ops.get(req["op"])
        if handler is None:
            return {"error": f"unknown op {req['op']!r}; one of: {', '.join(ops)}"}
        try:
            return handler(req) if user is None else handler(req, user)
        except (ClusterError, ValueError) as e:
            return {"error": str(e)}
        except Exception as e:              # a switch bug: told, logged, and served on
            log.exception("request %r", req)
            return {"error": f"{type(e).__name__}: {e}"}

    def _port(self, req: dict) -> str:
        name = _name(req)
        if name not in self.sw.ports:
            known = ", ".join(sorted(self.sw.ports)) or "none"
            raise ClusterError(f"no node {name!r} on the switch (its ports: {known})")
        return name

    def describe(self, name: str) -> dict:
        port = self.sw.ports[name]
        d = self.sw.bridge.ports[name].describe()
        d.update(kind=port.kind, endpoint=port.endpoint, node=port.peer)
        return d

    def status(self, req: dict) -> dict:
        sw = self.sw
        listener = sw.listener.last_endpoint.decode() if sw.listener is not None else None
        return {"pid": os.getpid(), "folder": sw.folder, "loop": sw.loop_name,
                "listen": listener, "refused": sw.gate.refused if sw.gate else 0,
                "pcap": sw.pcap.path if sw.pcap else None,
                "captured": sw.pcap.records if sw.pcap else 0,
                "ports": [self.describe(n) for n in sorted(sw.ports)],
                "learned": sw.bridge.learned(), "filtered": sw.bridge.filtered,
                "malformed": sw.bridge.malformed}

    def _check_site(self, name: str, site: int, kind: str) -> bool:
        """True if `name` already has its port (same site and kind); ClusterError if
        the name or the site is another's."""
        for other, bport in self.sw.bridge.ports.items():
            if other == name:
                if bport.site != site or self.sw.ports[name].kind != kind:
                    raise ClusterError(f"node {name!r} is on the switch already, as site "
                                       f"{bport.site} ({self.sw.ports[name].kind})")
                return True
            if bport.site == site:
                raise ClusterError(f"site {site} is node {other!r}'s")
        return False

    def add(self, req: dict) -> dict:
        name, site = _name(req), _site(req)
        if not self._check_site(name, site, "ipc"):
            path = self.sw.path(f"{name}.port")
            if len(path) > 100:
                raise ClusterError(f"{path} is too long for a Unix socket; "
                                   "set MK_HOME to a shorter folder")
            self.sw.add_port(name, site, f"ipc://{path}")
        return {"endpoint": self.sw.ports[name].endpoint}

    def remove(self, req: dict) -> dict:
        self.sw.remove_port(self._port(req))
        return {"ports": len(self.sw.ports)}

    def link(self, req: dict) -> dict:
        name = self._port(req)
        state = req.get("state")
        if state not in (None, "up", "down"):
            raise ClusterError(f"a link is up or down, not {state!r}")
        bport = self.sw.bridge.ports[name]
        settings = {k: req.get(k) for k in ("loss", "dup", "reorder", "delay", "seed")}
        if req.get("clear") or any(v is not None for v in settings.values()):
            base = Impairment(seed=bport.impairment.seed) if req.get("clear") \
                else bport.impairment
            bport.impair(base.changed(**settings))
        if state is not None:
            self.sw.link(name, up=state == "up")
        return self.describe(name)

    def capture(self, req: dict) -> dict:
        if req.get("on"):
            return {"pcap": self.sw.start_capture()}
        self.sw.stop_capture()
        return {"pcap": None}

    def listen(self, req: dict) -> dict:
        endpoint = req.get("endpoint")
        if not isinstance(endpoint, str):
            raise ClusterError("listen needs an endpoint, tcp://HOST:PORT")
        return {"listen": self.sw.listen(endpoint)}

    def stop(self, req: dict) -> dict:
        self.sw.stopping = True
        return {}

    # -- from the listener ---------------------------------------------------------------

    def join(self, req: dict, user: str) -> dict:
        name, site = _name(req), _site(req)
        if name != user:
            raise ClusterError(f"this key is {user}'s: it cannot join as {name!r}")
        if not self._check_site(name, site, "tcp"):
            host = self.sw.listener.last_endpoint.decode().rsplit(":", 1)[0]
            _, secret = self.sw.keys.switch_keypair()
            self.sw.add_port(name, site, f"{host}:*", curve_secret=secret)
        return {"port": int(self.sw.ports[name].endpoint.rsplit(":", 1)[1])}

    def leave(self, req: dict, user: str) -> dict:
        name = self._port(req)
        if name != user:
            raise ClusterError(f"this key is {user}'s: it cannot remove {name!r}")
        self.sw.remove_port(name)
        return {}
