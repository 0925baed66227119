"""The cluster: the switch that is the Ethernet between nodes, and how nodes join it.

A layer of its own beside the nodes (DESIGN §9): it imports `hw` (the cable's frame and
pcap helpers) and nothing above; `cli` imports it. One concern per module:

    bridge.py   forwarding: the learning bridge, per-port counters (no sockets)
    impair.py   seeded loss, duplication, reordering and delay of one port
    ports.py    a port's socket: where a node's NIC cable connects
    switch.py   the switch process: its sockets, its loop, `python -m cluster.switch`
    ctl.py      the control protocol: what `mk link`, `mk switch`, a join may ask
    client.py   the operator's side: start, ask and stop the switch; join from afar
    keys.py     CurveZMQ keys, the allow-list and the ZAP handler
    config.py   a cluster described in TOML (`mk up -f cluster.toml`)

docs/net.md describes the whole.
"""


class ClusterError(Exception):
    """Something the operator must be told in one line (bad input, a refusal...)."""
