"""The wire side of the NIC: Ethernet addresses, a ZeroMQ "cable", and a pcap tap.

A cable is a ZeroMQ PAIR socket. One end binds, the other connects, and each ZeroMQ
message is one raw Ethernet II frame (no preamble, no FCS). PAIR is the simplest thing
that behaves like a crossover cable between two machines in two processes: exactly two
ends, frames in order, nothing routed. Spec strings:

    "bind:ipc:///tmp/lan0"        "connect:ipc:///tmp/lan0"
    "bind:tcp://127.0.0.1:5555"   "connect:tcp://127.0.0.1:5555"
    "bind:tcp://127.0.0.1:*"      (any free port; read the real one from `endpoint`)
    "connect:tcp://10.0.0.1:7701#curve=/home/u/.mk/c/switch.keys"

The `#curve=KEYS` option makes a connecting end a CurveZMQ client: KEYS is a TOML file
(mode 0600) of Z85 keys, `switch_public` (the server's), `public` and `secret` (this
end's), as the cluster's switch hands them out (cluster/keys.py). A server that refuses
the key never completes the handshake, so the carrier stays down; `refused` says why.

Carrier (the card's LINK bit) follows the ZeroMQ socket monitor: up when a ZMTP handshake
with the far end succeeds, down when it disconnects. Sending never blocks: with no far end
(or a far end that stopped draining) a frame is dropped, as on an unplugged cable.

`PcapWriter` appends frames to a classic libpcap file (magic 0xa1b2c3d4, v2.4, linktype 1),
flushing after every record so `tcpdump -r` or Wireshark can follow it live. Timestamps
are host wall time: a capture is read beside other host logs, not against the sim clock.
"""
from __future__ import annotations

import os
import struct
import time
import tomllib
from typing import BinaryIO

import zmq
from zmq.utils.monitor import recv_monitor_message

__all__ = ["Cable", "PcapWriter", "parse_spec", "curve_keys", "parse_mac", "format_mac", "random_mac",
           "PCAP_MAGIC", "LINKTYPE_ETHERNET", "ETH_MIN", "ETH_MAX", "BROADCAST"]

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
ETH_MIN, ETH_MAX = 14, 1514     # an Ethernet II frame without FCS: header .. header + MTU
BROADCAST = b"\xff" * 6
_SNAPLEN = 65535
_HWM = 1000                      # frames queued per direction before the cable drops
_UP = zmq.EVENT_HANDSHAKE_SUCCEEDED
_DOWN = zmq.EVENT_DISCONNECTED
_REFUSED = zmq.EVENT_HANDSHAKE_FAILED_AUTH
CURVE_KEYS = ("switch_public", "public", "secret")


def parse_spec(spec: str) -> tuple[str, str]:
    """Split "bind:ENDPOINT" / "connect:ENDPOINT" into (mode, endpoint); ValueError if bad.
    A "#curve=KEYS" option is left out (see `curve_keys`)."""
    mode, sep, endpoint = spec.partition(":")
    endpoint, _, option = endpoint.partition("#")
    if not sep or mode not in ("bind", "connect") or "://" not in endpoint:
        raise ValueError(f"bad link spec {spec!r}: want 'bind:<zmq endpoint>' "
                         f"or 'connect:<zmq endpoint>'")
    if option and not (option.startswith("curve=") and mode == "connect"):
        raise ValueError(f"bad link spec {spec!r}: the only option is "
                         f"'#curve=KEYS', on a connecting end")
    return mode, endpoint


def curve_keys(spec: str) -> dict[str, bytes] | None:
    """The CurveZMQ keys a spec's "#curve=KEYS" file holds (None without the option);
    ValueError when the file cannot be read or lacks a key."""
    option = spec.partition("#")[2]
    if not option:
        return None
    path = option.removeprefix("curve=")
    try:
        with open(path, "rb") as f:
            keys = tomllib.load(f)
        return {k: keys[k].encode("ascii") for k in CURVE_KEYS}
    except (OSError, tomllib.TOMLDecodeError, KeyError, AttributeError,
            UnicodeEncodeError) as exc:
        raise ValueError(f"cannot read CurveZMQ keys from {path}: {exc!r}") from None


def parse_mac(mac: bytes | str) -> bytes:
    """6 bytes from b"..." or "aa:bb:cc:dd:ee:ff" (or dashes); ValueError otherwise."""
    raw = bytes.fromhex(mac.replace(":", "").replace("-", "")) if isinstance(mac, str) else bytes(mac)
    if len(raw) != 6:
        raise ValueError(f"a MAC address has 6 bytes, not {len(raw)}: {mac!r}")
    return raw


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def random_mac() -> bytes:
    """A locally administered unicast address, 02:6d:6b:xx:xx:xx ("mk")."""
    return b"\x02\x6d\x6b" + os.urandom(3)


class Cable:
    """One end of a cable: a non-blocking PAIR socket plus its monitor (carrier) socket."""

    def __init__(self, spec: str):
        mode, endpoint = parse_spec(spec)
        keys = curve_keys(spec)
        self.spec = spec
        self.carrier = False
        self.refused = False            # a CURVE server refused our key (last handshake)
        self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.PAIR)
        sock.linger = 0
        sock.sndhwm = sock.rcvhwm = _HWM
        if mode == "connect":
            sock.immediate = 1          # queue nothing until the far end is really there
        if keys is not None:
            sock.curve_serverkey = keys["switch_public"]
            sock.curve_publickey, sock.curve_secretkey = keys["public"], keys["secret"]
        self.monitor = sock.get_monitor_socket(_UP | _DOWN | _REFUSED)
        self.sock = sock
        try:
            getattr(sock, mode)(endpoint)
        except zmq.ZMQError as exc:
            self.close()
            raise ValueError(f"cannot {mode} {endpoint!r}: {exc}") from None

    @property
    def endpoint(self) -> str:
        """The endpoint bound or connected (a bound "tcp://...:*" shows its port)."""
        return self.sock.last_endpoint.decode()

    def send(self, frame: bytes) -> bool:
        """Put one frame on the wire; False when it was dropped (no far end, or congestion)."""
        try:
            self.sock.send(frame, zmq.NOBLOCK)
            return True
        except zmq.Again:
            return False

    def recv_ready(self) -> list[bytes]:
        """Every frame waiting on the wire, without blocking."""
        out = []
        while True:
            try:
                out.append(self.sock.recv(zmq.NOBLOCK))
            except zmq.Again:
                return out

    def carrier_events(self) -> bool:
        """Drain the monitor; True when the carrier changed (see `carrier`)."""
        before = self.carrier
        while True:
            try:
                event = recv_monitor_message(self.monitor, zmq.NOBLOCK)["event"]
            except zmq.Again:
                return self.carrier != before
            if event == _UP:
                self.carrier, self.refused = True, False
            elif event == _DOWN:
                self.carrier = False
            elif event == _REFUSED:
                self.refused = True

    def close(self) -> None:
        """Unplug: close both sockets and end the private ZeroMQ context."""
        self.carrier = False
        if self.sock is not None:
            try:
                self.sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self.monitor.close(linger=0)
            self.sock.close(linger=0)
            self.sock = None
        if not self._ctx.closed:
            self._ctx.term()


class PcapWriter:
    """Appends Ethernet frames to a classic pcap file, one flushed record per frame."""

    def __init__(self, path: str):
        self.path = str(path)
        self._f: BinaryIO | None = open(self.path, "wb")
        self._f.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, _SNAPLEN,
                                  LINKTYPE_ETHERNET))
        self._f.flush()
        self.records = 0

    def write(self, frame: bytes, when: float | None = None) -> None:
        """Append one record stamped with host wall time (`time.time()` unless given)."""
        if self._f is None:
            return
        when = time.time() if when is None else when
        sec = int(when)
        usec = min(int((when - sec) * 1_000_000), 999_999)
        data = bytes(frame[:_SNAPLEN])
        self._f.write(struct.pack("<IIII", sec, usec, len(data), len(frame)) + data)
        self._f.flush()
        self.records += 1

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
