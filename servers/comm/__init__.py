"""The communication server: IPC to other nodes' threads, over the NIC driver.

The kernel knows no network: it redirects IPC aimed at another site's thread to this
task (COMM_TASK), and lets it deliver in a remote thread's name (docs/kernel.md, "Remote
IPC"). This server carries such messages to the peer node's comm server in Ethernet
frames of EtherType 0x88B5 through net0, and delivers what comes from there. docs/net.md,
"Remote IPC", describes the protocol, its state machines and its failure semantics.

    wire.py     the frame layout
    link.py     one link's reliable, ordered, exactly-once transfer (outbox, inbox)
    peers.py    the nodes heard from: announcements, deaths, incarnations
    deliver.py  per-thread queues of what is to be delivered here
    engine.py   the state and rules behind one lock
    server.py   the lthreads: requests and redirected IPC, NIC in and out, delivery
    trace.py    the frames, noted in the kernel's trace while one runs (`mk trace`)
"""
from .server import main

__all__ = ["main"]
