"""The host end of a 16550A's serial line: the bytes' way between the wire and the host.

`HostEndpoint` is mixed into the chip (hw/uart16550.py, which keeps the registers, port
I/O, FIFO, interrupts, the line's break and modem signals). It reads the chip's
`loopback`, `_rx` and `_depth()`, and calls back its `_receive(byte)`, `_arm_timeout()`,
`_update_irq()` and the device's `sources_changed()`; its own state (`on_tx`, `pty_path`,
`rx_dropped`, `tx_dropped`, `_backlog`, `_tx_log`, `_out`, `_fd`, `_slave_fd`, `_sock`,
`_paused`) is set up by the chip's constructor and reported by its `describe()`.

`host_feed` puts bytes on the wire (a full FIFO overruns), `host_take` returns what was
transmitted, `on_tx` hears every byte. A person can type into it through `attach_pty()`
(a raw pseudo-terminal) or `attach_socket()`; those far ends honour flow control, so a
paste waits in a host-side backlog instead of overrunning, and while the backlog is full
the UART stops reading its far end (it leaves `poll_sources()` until half the backlog
has gone), so the writer waits in the host and nothing is lost. Nothing here blocks:
the owner polls `poll_sources()`.
"""
from __future__ import annotations

import os
import socket
import tty
from typing import Any, Callable

__all__ = ["HostEndpoint", "BACKLOG_MAX", "OUT_MAX", "TX_KEEP"]

BACKLOG_MAX = 1 << 16            # host bytes waiting for FIFO room (flow-controlled far end)
OUT_MAX = 1 << 16                # transmitted bytes a slow host endpoint may lag behind
TX_KEEP = 1 << 16                # host_take keeps at most this many untaken bytes


class HostEndpoint:
    """A UART's far end: backlog, transmit log and a pty or socket (mixed into UART16550)."""

    # -- the far end --------------------------------------------------------------------

    def poll_sources(self) -> list[tuple[Any, Callable[[], None]]]:
        """The host endpoint's fd, if any and if the backlog has room; re-ask after each
        callback (it may detach) and on `sources_changed()`."""
        if self._fd is None or self._paused:
            return []
        return [(self._fd, self._on_host_readable)]

    def host_feed(self, data: bytes, flow_control: bool = False) -> None:
        """Bytes on the wire towards the UART. Without flow control a full FIFO
        overruns (LSR.OE); with it they wait in a backlog until the FIFO has room."""
        if flow_control:
            room = BACKLOG_MAX - len(self._backlog)
            self.rx_dropped += max(0, len(data) - room)
            self._backlog += data[:max(room, 0)]
            self._refill()
        elif not self.loopback:
            for byte in data:
                self._receive(byte)
        self._update_irq()

    def host_take(self) -> bytes:
        """What the UART transmitted since the last call (the newest TX_KEEP bytes)."""
        out, self._tx_log = bytes(self._tx_log), bytearray()
        return out

    def _emit(self, data: bytes) -> None:
        self._tx_log += data
        del self._tx_log[:-TX_KEEP]
        if self.on_tx is not None:
            self.on_tx(data)
        if self._fd is not None:
            self._out += data
            self._flush_out()

    def _refill(self) -> None:
        """Move backlog bytes into free FIFO room (receiver disconnected in loopback)."""
        n = min(len(self._backlog), self._depth() - len(self._rx))
        if n <= 0 or self.loopback:
            return
        self._rx.extend(self._backlog[:n])
        del self._backlog[:n]
        self._arm_timeout()
        if self._paused and len(self._backlog) <= BACKLOG_MAX // 2:
            self._paused = False                # read the far end again
            self.sources_changed()

    # -- host endpoints -----------------------------------------------------------------

    def attach_pty(self) -> str:
        """Open a raw pseudo-terminal as the far end; returns the slave path (/dev/pts/N)."""
        self.detach_host()
        master, slave = os.openpty()
        tty.setraw(slave)            # no echo, no line discipline: bytes pass as typed
        os.set_blocking(master, False)
        # Holding the slave open keeps the master from reading EIO when a terminal
        # program (screen, picocom) on the slave path disconnects.
        self._fd, self._slave_fd = master, slave
        self.pty_path = os.ttyname(slave)
        return self.pty_path

    def attach_socket(self, sock: socket.socket) -> None:
        """Use a connected socket as the far end; the UART owns and closes it."""
        self.detach_host()
        sock.setblocking(False)
        self._sock, self._fd = sock, sock.fileno()

    def detach_host(self) -> None:
        """Unplug the far end: close the pty pair or the socket."""
        if self._sock is not None:
            self._sock.close()
        elif self._fd is not None:
            os.close(self._fd)
        if self._slave_fd is not None:
            os.close(self._slave_fd)
        self._fd = self._slave_fd = self._sock = self.pty_path = None
        self._out.clear()

    def _on_host_readable(self) -> None:
        """Poll callback: move what the host sent into the backlog and the FIFO."""
        room = BACKLOG_MAX - len(self._backlog)
        if self._fd is None or room <= 0:
            return
        try:
            n = min(4096, room)
            data = self._sock.recv(n) if self._sock else os.read(self._fd, n)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:                 # the peer hung up
            self.detach_host()
            return
        self.host_feed(data, flow_control=True)
        if len(self._backlog) >= BACKLOG_MAX:   # full: leave the rest in the host's buffer
            self._paused = True
            self.sources_changed()
        self._flush_out()

    def _flush_out(self) -> None:
        while self._out and self._fd is not None:
            try:
                n = self._sock.send(self._out) if self._sock else os.write(self._fd, self._out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.detach_host()
                return
            del self._out[:n]
        # Nobody reads the far end: like a real line without flow control, drop the oldest.
        self.tx_dropped += max(0, len(self._out) - OUT_MAX)
        del self._out[:-OUT_MAX]