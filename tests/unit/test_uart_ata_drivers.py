"""drivers.uart and drivers.ata without a node: the driver classes on the real device
models (hw.uart16550, hw.ata) through a stand-in `rt` that performs port I/O on a port
bus, latches IRQ edges like the PIC, and records the replies a driver sends later.
Covers what a booted node makes hard to force: readers served in arrival order, a
reader that went away, the full ring's flow control, a long write resumed by THR-empty
interrupts, and an ATA drive that is slow (BSY, IRQ14 waits) or broken (EIO). Requests
go through the driver's Dispatch, as in its task."""
import errno

import pytest

from drivers.ata import Ata
import drivers.uart as uart_mod
from drivers.uart import Uart
from hw.ata import ATADisk
from hw.clock import VirtualClock
from hw.device import IrqLine
from hw.ports import PortBus
from hw.uart16550 import UART16550
from microkernel.abi import IpcCode, IpcError, Msg, Phase, ThreadId
from protocols.block import BLOCK, Op as B_OP
from protocols.char import CHAR, Op as C_OP
from protocols.root import Op as RootOp
from protocols.server import Dispatch

A, B = ThreadId.make(70, 0, 1, 1), ThreadId.make(71, 0, 1, 1)
READ, READ_NB, WRITE = C_OP.READ, C_OP.READ_NB, C_OP.WRITE
DRIVER_HELLO = RootOp.DRIVER_HELLO
RING_SIZE = 4096                  # the driver's ring, made small for speed


class PortRt:
    """The part of `rt` a driver uses: ports onto a bus, IRQ edges latched as the PIC
    does, sends recorded (to a thread in `gone` they fail as to a vanished client)."""

    def __init__(self):
        self.clock, self.bus = VirtualClock(), PortBus()
        self.latched, self.sent, self.gone = 0, [], set()

    def myself(self): return ThreadId.make(40, 0, 1, 1, chief=4)
    def alive(self, tid): return False          # a death notice's sender is dead
    def chief(self): return ThreadId.make(4, 0, 1, 1)

    def plug(self, dev):
        for base, count in dev.port_ranges:
            self.bus.register(dev, base, count)
        dev.plugged(self, {n: IrqLine(n, self._edge) for n in dev.irqs})
        return dev

    def _edge(self, irq, level):
        self.latched = 1 if level else self.latched       # IRR: one latched request

    def inb(self, p): return self.bus.inb(p)
    def outb(self, p, v): self.bus.outb(p, v)
    def outw(self, p, v): self.bus.outw(p, v)
    def outl(self, p, v): self.bus.outl(p, v)
    def insw(self, p, n): return self.bus.insw(p, n)
    def outsw(self, p, data): self.bus.outsw(p, bytes(data))

    def port_batch(self, *ops):
        return [getattr(self, name)(port, *arg) for name, port, *arg in ops]

    def send(self, dest, msg, timeout=0):
        if dest in self.gone:
            raise IpcError(IpcCode.TIMEOUT, Phase.SEND)
        self.sent.append((dest, msg))

    def receive(self, src, timeout=None):
        """Wait for the latched IRQ, moving virtual time on to the device's next step."""
        while not self.latched:
            deadline = self.clock.next_deadline()
            if deadline is None:
                raise IpcError(IpcCode.TIMEOUT, Phase.RECEIVE)
            self.clock.advance(max(0.0, deadline - self.clock.now()))
        self.latched = 0
        return Msg(sender=ThreadId(src))


def run_irqs(rt, uart, rounds=10000):
    """What the driver's loop does per interrupt, until the line stays quiet."""
    for _ in range(rounds):
        if not rt.latched:
            rt.clock.advance(0.01)                    # character timeouts
            if not rt.latched:
                return
        rt.latched = 0
        uart.interrupt(Msg())
        uart.after()


@pytest.fixture
def com():
    rt = PortRt()
    dev = rt.plug(UART16550("com1", 0x3F8, 4))
    uart = Uart(rt, 0x3F8)
    uart.setup()
    yield rt, dev, uart
    dev.close()


def req(uart, sender, *words, strings=()):
    """One request through the driver's table, then its after-work, as `serve` does."""
    reply = Dispatch(CHAR, uart, uart.rt)(Msg(words=words, strings=strings, sender=sender))
    uart.after()
    return reply


def test_setup_programs_9600_8n1_fifo_out2(com):
    rt, dev, uart = com
    assert dev.divisor == 12 and dev.lcr == 0x03 and dev.mcr == 0x0B
    assert dev.fcr & 0xC1 == 0xC1 and uart.trigger == 14 and uart.ier == 0x05


def test_blocked_readers_are_served_in_arrival_order(com):
    rt, dev, uart = com
    assert req(uart, A, READ, 5) is None and req(uart, B, READ, 100) is None
    dev.host_feed(b"hello world", flow_control=True)
    run_irqs(rt, uart)
    assert [(d, m.strings) for d, m in rt.sent] == [(A, (b"hello",)), (B, (b" world",))]
    assert uart.irqs >= 1 and not uart.readers


def test_a_reader_that_went_away_leaves_the_bytes(com):
    rt, dev, uart = com
    req(uart, A, READ, 100)
    req(uart, B, READ, 100)
    rt.gone.add(A)
    dev.host_feed(b"abc", flow_control=True)
    run_irqs(rt, uart)
    assert [(d, m.words, m.strings) for d, m in rt.sent] == [(B, (0,), (b"abc",))]
    assert req(uart, A, READ_NB, 10).strings == (b"",)


def test_a_full_ring_holds_data_back_and_loses_nothing(com, monkeypatch):
    rt, dev, uart = com
    monkeypatch.setattr(uart_mod, "RING_SIZE", RING_SIZE)
    data = bytes(i * 7 % 251 for i in range(3 * RING_SIZE + 1000))
    fed, got, stalls = 0, b"", 0
    for _ in range(1000):
        room = min(2000 - len(dev._backlog), len(data) - fed)   # the pty's paste
        dev.host_feed(data[fed:fed + room], flow_control=True)
        fed += room
        run_irqs(rt, uart)
        if uart.rx_stalled:                           # full: receive interrupts off
            stalls += 1
            assert len(uart.rx) == RING_SIZE and not uart.ier & 0x01
            got += req(uart, A, READ, RING_SIZE).strings[0]
            assert not uart.rx_stalled and uart.ier & 0x01   # on again: a new edge
        elif fed == len(data):
            break
    run_irqs(rt, uart)
    got += req(uart, A, READ_NB, RING_SIZE).strings[0]
    assert stalls >= 2 and got == data
    assert uart.overruns == 0 and dev.rx_dropped == 0


def test_a_long_write_goes_out_in_bursts_resumed_by_thr_empty_irqs(com):
    rt, dev, uart = com
    data = bytes(range(256)) * 20
    assert req(uart, A, WRITE, strings=(data,)) is None   # more than one burst
    assert uart.ier & 0x02                                # THRI on while bytes wait
    short = req(uart, B, WRITE, strings=(b"after",))
    assert short is None
    run_irqs(rt, uart)
    assert dev.host_take() == data + b"after"
    assert [(d, m.words) for d, m in rt.sent] == [(A, (0, len(data))), (B, (0, 5))]
    assert not uart.ier & 0x02 and uart.tx_bytes == len(data) + 5


def test_short_write_is_answered_at_once_and_bad_requests_are_refused(com):
    rt, dev, uart = com
    assert req(uart, A, WRITE, strings=(b"hi",)).words == (0, 2)
    assert dev.host_take() == b"hi"
    for words, strings in [((READ,), ()), ((READ, 0), ()), ((WRITE,), ()),
                           ((WRITE, 1), (b"x",)), ((WRITE,), (bytes(64 * 1024 + 1),))]:
        assert req(uart, A, *words, strings=strings).words == (errno.EINVAL,)
    for words in [(), (DRIVER_HELLO,), (B_OP.FLUSH,)]:
        assert req(uart, A, *words).words == (errno.ENOSYS,)
    assert not uart.writers and not uart.readers and dev.host_take() == b""


@pytest.fixture(params=[0.0, 0.002], ids=["instant", "slow"])
def disk(tmp_path, request):
    path = tmp_path / "d.img"
    path.write_bytes(bytes(512 * 600))
    rt = PortRt()
    dev = rt.plug(ATADisk(path, latency=request.param))
    yield rt, dev, path
    dev.close()


@pytest.mark.parametrize("multiple", [True, False])
def test_ata_reads_and_writes_sectors(disk, multiple):
    rt, dev, path = disk
    ata = Ata(rt, multiple=multiple)
    ata.setup()
    assert ata.sectors == 600 and ata.per == (dev.multiple if multiple else 1)
    assert ata.per > 1 if multiple else dev.multiple == 0
    data = bytes(i % 253 for i in range(512 * 40))
    ata.write_sectors(3, data)
    assert ata.read_sectors(3, 40) == data
    assert path.read_bytes()[3 * 512:43 * 512] == data
    ata.flush_cache()
    assert block(ata, B_OP.READ, 590, 11).words == (errno.ERANGE,)
    with pytest.raises(OSError) as e:
        ata.read_sectors(600, 1)
    assert e.value.errno == errno.ERANGE


def block(ata, *words, strings=()):
    return Dispatch(BLOCK, ata, ata.rt)(Msg(words=words, strings=strings, sender=A))


def test_ata_requests_through_the_block_protocol(disk):
    rt, dev, path = disk
    ata = Ata(rt)
    ata.setup()
    info = BLOCK.decode_reply(B_OP.INFO, block(ata, B_OP.INFO))
    assert info.sectors == 600 and info.sector_size == 512 and info.model
    assert block(ata, B_OP.WRITE, 7, 2, strings=(b"ab" * 512,)).words == (0,)
    assert block(ata, B_OP.READ, 7, 2).strings == (b"ab" * 512,)
    assert block(ata, B_OP.FLUSH).words == (0,)
    for words, strings in [((B_OP.READ, 0, 0), ()), ((B_OP.READ, 0, 257), ()),
                           ((B_OP.READ, 0), ()), ((B_OP.WRITE, 0, 2), (bytes(512),)),
                           ((B_OP.INFO, 1), ())]:
        assert block(ata, *words, strings=strings).words == (errno.EINVAL,)
    assert block(ata, C_OP.READ_NB, 1).words == (errno.ENOSYS,)


def test_ata_device_errors_are_eio_and_the_drive_is_reset(disk):
    rt, dev, path = disk
    ata = Ata(rt)
    ata.setup()
    dev.close()                                   # the image is gone: commands fail
    assert block(ata, B_OP.READ, 0, 4).words == (errno.EIO,)
    w = block(ata, B_OP.WRITE, 0, 1, strings=(bytes(512),))
    assert w.words == (errno.EIO,) and ata.errors == 2
    assert not rt.inb(0x3F6) & 0x88              # reset: neither BSY nor DRQ left over
