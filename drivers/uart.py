"""The 16550 UART driver (com1, com2): the char protocol over port I/O and IRQ IPC.

One task per port, one thread. It programs the chip the classic PC way (9600 8N1,
FIFOs on with a 14-byte receive trigger, MCR = DTR|RTS|OUT2 so the IRQ reaches the
bus) and then serves in V2 style: its open wait takes both client requests and the
interrupts of its line, which arrive as empty messages from irq_id(n).

Why this shape:
- Every port access is a round trip to the kernel, so the driver counts accesses. A
  received-data interrupt guarantees a trigger level of bytes in the FIFO: they are
  taken with one `rep insw` on RBR, which the 8-bit card sees as byte reads of RBR and
  IER (ISA bus sizing; IER reads have no side effect). A transmit burst is one `rep
  outsw` of (byte, IER) pairs after LSR.THRE says the 16-byte FIFO is empty. The rest
  (the tail after a character timeout) is drained byte by byte while LSR.DR, a FIFO's
  worth at a time, so a refilled FIFO goes back to the fast path.
- Why 9600 baud: the line speed sets only the character timeout here (4 character
  times: 0.35 ms at 115200, 4.2 ms at 9600), and a port access costs about as much as
  the former. At 115200 the timeout (which promises one byte) would always beat the
  received-data interrupt (which promises fourteen), and reading would go byte by byte.
- Each interrupt pass handles sources until IIR says none, so the (edge-triggered)
  line is low and the next event is a fresh edge. A pass is bounded (4 KiB received);
  one that stops early toggles IER off and on, which raises a new edge, so waiting
  clients are served in between and nothing stalls.
- Received bytes go to a 64 KiB ring. When it is full the driver turns IER's receive
  interrupts off and leaves the bytes in the chip, whose far end (the pty) then waits:
  flow control, not loss. Turning them on again with data waiting raises a new edge.
- READ blocks: a client with nothing to read is remembered (one entry per client
  thread, served in arrival order) and answered later with a send of timeout 0. A
  reader who has gone away costs nothing: the bytes stay in the ring for the next one.
- WRITE moves bytes to THR while THRE allows. A long write goes out in bursts; between
  them IER.THRI is on and the THR-empty interrupt resumes it, so other clients are not
  held up. The writer gets its reply when its last byte has gone.

The protocol (operations, layouts, errors) is protocols/char.py; requests reach the
handlers below through Dispatch, interrupts through its `irq` kind, and the deferred
replies go out in `after`, once per message.
"""
from __future__ import annotations

import errno

from protocols.char import CHAR, MAX_READ, MAX_WRITE, Op
from protocols.server import Dispatch, send_reply, serve

from .driver import start

__all__ = ["main", "Uart", "RING_SIZE", "MAX_WRITE", "BAUD"]

# registers (offsets from the base port) and their bits, PC16550D datasheet
RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7
IER_RDI, IER_THRI, IER_RLSI = 0x01, 0x02, 0x04
IIR_NONE, IIR_ID, IIR_MSI, IIR_THRE, IIR_RDA, IIR_RLS, IIR_CTI = 0x01, 0x0F, 0x00, 0x02, 0x04, 0x06, 0x0C
IIR_FIFO = 0xC0
FCR_SETUP = 0xC0 | 0x07          # trigger 14, clear TX and RX, enable
LCR_DLAB, LCR_8N1 = 0x80, 0x03
MCR_SETUP = 0x0B                 # DTR | RTS | OUT2 (OUT2 gates the IRQ on a PC)
LSR_DR, LSR_OE, LSR_BI, LSR_THRE = 0x01, 0x02, 0x10, 0x20

BAUD = 9600
RX_TRIGGER = 14                  # FCR bits 7..6 = 11
FIFO_DEPTH = 16
RING_SIZE = 64 << 10             # receive ring; full = flow control through IER
TX_BURST = 1024                  # bytes sent before other work gets a turn
RX_BUDGET = 4096                 # bytes taken per interrupt pass
PASS_LIMIT = 1024                # IIR reads per pass (a floating bus reads 0xFF)


class Uart:
    """The chip behind one base port, its receive ring and its waiting clients."""

    def __init__(self, rt, base: int):
        self.rt, self.base = rt, base
        self.ier = 0
        self.rx = bytearray()
        self.readers: dict[int, int] = {}                   # client -> max bytes
        self.writers: list[list] = []                       # [client, data, sent]
        self.finished: list[list] = []                      # writers owed a reply
        self.rx_stalled = False
        self.trigger, self.fifo = 1, 1                      # a 16450: no FIFOs
        self.irqs = self.rx_bytes = self.tx_bytes = self.overruns = self.breaks = 0

    # -- the chip -----------------------------------------------------------------

    def setup(self, baud: int = BAUD) -> None:
        """Program the UART: quiet, divisor, 8N1, FIFOs, modem lines, RX interrupts."""
        out, inb, b = self.rt.outb, self.rt.inb, self.base
        out(b + SCR, 0x5A)
        if inb(b + SCR) != 0x5A:
            raise RuntimeError(f"no UART at {b:#x}")
        out(b + IER, 0)
        div = 115200 // baud                               # 1.8432 MHz / 16
        out(b + LCR, LCR_DLAB)
        out(b + DLL, div & 0xFF)
        out(b + DLM, div >> 8)
        out(b + LCR, LCR_8N1)
        out(b + FCR, FCR_SETUP)
        if inb(b + IIR) & IIR_FIFO == IIR_FIFO:             # a 16550A, FIFOs working
            self.trigger, self.fifo = RX_TRIGGER, FIFO_DEPTH
        out(b + MCR, MCR_SETUP)
        inb(b + LSR), inb(b + MSR)                          # clear stale line/modem state
        self.set_ier(IER_RDI | IER_RLSI)
        self.service()                                      # what came in before we looked

    def set_ier(self, ier: int) -> None:
        if ier != self.ier:
            self.ier = ier
            self.rt.outb(self.base + IER, ier)

    def service(self) -> None:
        """Handle pending sources until IIR says none (the line is low again); a pass
        cut short (4 KiB in, or one transmit burst out) re-raises the line so the next
        interrupt goes on where it stopped."""
        inb, b = self.rt.inb, self.base
        budget, pumped = RX_BUDGET, False
        for _ in range(PASS_LIMIT):
            iir = inb(b + IIR)
            if iir == 0xFF:                                 # nothing on the bus
                return
            iid = iir & IIR_ID
            if iid & IIR_NONE:
                return
            if iid == IIR_THRE:                             # reading IIR acknowledged it
                if pumped:                  # one burst per pass: the rest after others
                    break
                pumped = True
                self.pump(TX_BURST)
            elif iid == IIR_MSI:
                inb(b + MSR)
            elif budget <= 0:
                break
            elif iid == IIR_RDA and self.room() >= self.trigger:
                self.take(self.rt.insw(b + RBR, self.trigger)[::2])   # RBR, IER pairs
                budget -= self.trigger
            else:                                           # RDA, CTI, RLS
                budget -= self.drain(min(budget, self.fifo))
        self.rt.outb(b + IER, 0)                            # a new edge for the rest
        self.rt.outb(b + IER, self.ier)

    def room(self) -> int:
        return RING_SIZE - len(self.rx)

    def take(self, data: bytes) -> None:
        self.rx += data
        self.rx_bytes += len(data)

    def drain(self, most: int) -> int:
        """Read RBR while LSR.DR (at most `most` bytes); returns how many. With the
        ring full, stop taking and turn receive interrupts off (flow control)."""
        inb, b = self.rt.inb, self.base
        n = 0
        while n < most:
            lsr = inb(b + LSR)
            if lsr == 0xFF:
                break
            self.overruns += bool(lsr & LSR_OE)
            self.breaks += bool(lsr & LSR_BI)
            if not lsr & LSR_DR:
                break
            if not self.room():
                self.rx_stalled = True
                self.set_ier(self.ier & ~(IER_RDI | IER_RLSI))
                break
            self.take(bytes((inb(b + RBR),)))
            n += 1
        return max(n, 1)

    def taken(self, n: int) -> bytes:
        """Remove and return the first n ring bytes; restart receiving if it had stalled."""
        data = bytes(self.rx[:n])
        del self.rx[:n]
        if self.rx_stalled and self.room() >= RING_SIZE // 2:
            self.rx_stalled = False
            self.set_ier(self.ier | IER_RDI | IER_RLSI)     # data waiting: a new edge
        return data

    def pump(self, budget: int) -> None:
        """Send queued bytes while THR is empty, up to `budget`; finished writers move
        to `finished`. THRI stays on while bytes wait: the THR-empty IRQ resumes it.
        A FIFO's worth goes as one `rep outsw` of (byte, IER) pairs (bus sizing)."""
        inb, b = self.rt.inb, self.base
        while self.writers and budget > 0:
            w = self.writers[0]
            if not inb(b + LSR) & LSR_THRE:
                break
            chunk = w[1][w[2]:w[2] + min(self.fifo, budget)]
            ier = self.ier
            self.rt.outsw(b + THR, bytes(x for c in chunk for x in (c, ier)))
            w[2] += len(chunk)
            budget -= len(chunk)
            self.tx_bytes += len(chunk)
            if w[2] >= len(w[1]):
                self.finished.append(self.writers.pop(0))
        self.set_ier(self.ier | IER_THRI if self.writers else self.ier & ~IER_THRI)

    # -- requests (protocols.char; Dispatch calls them by name) --------------------

    def write(self, req, msg) -> tuple | None:
        """WRITE: (written,) when the last byte went at once, else None (the reply comes
        from `reply_writers` when it has gone)."""
        if len(req.data) > MAX_WRITE:
            raise OSError(errno.EINVAL, f"a write of {len(req.data)} bytes")
        client = int(msg.sender)
        self.forget(client)
        writer = [client, req.data, 0]
        self.writers.append(writer)
        self.pump(TX_BURST)
        if any(f is writer for f in self.finished):
            self.finished = [f for f in self.finished if f is not writer]
            return (len(writer[1]),)
        return None

    def read(self, req, msg) -> tuple | None:
        """READ: up to `most` buffered bytes, or None (the client waits for some)."""
        return self._read(req.most, int(msg.sender), block=True)

    def read_nb(self, req, msg) -> tuple:
        """READ_NB: up to `most` buffered bytes, maybe none."""
        return self._read(req.most, int(msg.sender), block=False)

    def _read(self, most: int, client: int, block: bool) -> tuple | None:
        if not most:
            raise OSError(errno.EINVAL, "a read of 0 bytes")
        self.forget(client)
        if self.rx or not block:
            return (self.taken(min(most, MAX_READ)),)
        self.readers[client] = most
        return None

    def info(self, req, msg) -> tuple:
        """INFO: the counters of protocols.char."""
        return (self.irqs, self.rx_bytes, self.tx_bytes, self.overruns, len(self.rx),
                len(self.readers), BAUD, self.breaks)

    def interrupt(self, msg) -> None:
        """IRQ of the line: handle the chip's sources (no reply)."""
        self.irqs += 1
        self.service()

    def after(self) -> None:
        """After each message: answer writers now done, and readers now served."""
        self.reply_writers()
        self.serve_readers()

    def forget(self, client: int) -> None:
        """A new request from a client thread ends whatever it waited for before."""
        self.readers.pop(client, None)
        self.writers = [w for w in self.writers if w[0] != client or w[2]]

    def serve_readers(self) -> None:
        """Answer waiting readers in arrival order while there are bytes; one that no
        longer waits leaves the bytes in the ring."""
        for client in list(self.readers):
            if not self.rx:
                return
            most = self.readers.pop(client)
            n = min(most, MAX_READ, len(self.rx))
            if send_reply(self.rt, client, CHAR.reply(Op.READ, (bytes(self.rx[:n]),))):
                self.taken(n)

    def reply_writers(self) -> None:
        """Tell writers whose last byte has gone (they wait in their call)."""
        done, self.finished = self.finished, []
        for client, data, _ in done:
            send_reply(self.rt, client, CHAR.reply(Op.WRITE, (len(data),)))


def main(rt, name: str, names_id: str) -> None:
    """Driver task entry: take ports and IRQ from root, set the chip up, serve forever:
    requests and the line's interrupts from one open wait."""
    drv = start(rt, name, names_id)
    uart = Uart(rt, min(p for p, _ in drv.ports))
    uart.setup()
    drv.register(rt)
    serve(rt, Dispatch(CHAR, uart, rt, irq=uart.interrupt), after=uart.after)
