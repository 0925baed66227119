"""Gone: the tty protocol is protocols/tty.py. TtyClient stays importable only for
personalities/unix/server.py until the conversion is merged; delete this file then."""
from protocols.tty import TtyClient

__all__ = ["TtyClient"]
