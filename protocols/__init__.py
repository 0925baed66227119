"""Each service's interface, declared once; one way to call a server and one to serve.

The layer between the kernel's ABI (microkernel.abi) and the servers and drivers that
speak these protocols: both sides import it, and it imports only the ABI.

    interface.py   how an interface is declared: operation codes, layouts, who may call
    client.py      Service: find a server by name, call it, one error rule (OSError)
    server.py      serve(): the V2 server loop; Dispatch: a protocol's table
    wellknown.py   the well-known task numbers and names of a node

and one module per service, each with its operations, layouts, errors and client stubs:
names, sigma0, root (and the operator's port), pager, block, char, net, timer, fs, tty,
unix.
"""
from .client import Service, ServiceError
from .interface import Interface, Layout, Operation, Who, call, error
from .server import Dispatch, Forward, Reply, send_reply, serve

__all__ = ["Service", "ServiceError", "Interface", "Layout", "Operation", "Who", "call",
           "error", "Dispatch", "Forward", "Reply", "send_reply", "serve"]
