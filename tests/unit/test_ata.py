"""hw.ata: IDENTIFY, PIO read/write through the ports, the image file, IRQ14, errors."""
import os

import pytest

from hw.ata import ATADisk
from hw.clock import VirtualClock
from hw.device import IrqLine
from hw.ports import PortBus

DATA, ERROR, COUNT, LBA0, LBA1, LBA2, DRIVE, STATUS = range(0x1F0, 0x1F8)
CTRL = 0x3F6
BSY, DRDY, DF, DRQ, ERR = 0x80, 0x40, 0x20, 0x08, 0x01
SECTORS = 64


class Harness:
    """A stand-in machine: a port bus, a virtual clock, and IRQ lines that log levels."""

    def __init__(self):
        self.clock = VirtualClock()
        self.ports = PortBus()
        self.levels: list[tuple[int, bool]] = []

    def plug(self, dev):
        for base, count in dev.port_ranges:
            self.ports.register(dev, base, count)
        dev.plugged(self, {irq: IrqLine(irq, lambda i, lv: self.levels.append((i, lv)))
                           for irq in dev.irqs})
        return dev

    def level(self, irq=14):
        seen = [lv for i, lv in self.levels if i == irq]
        return seen[-1] if seen else False


def pattern(lba: int) -> bytes:
    """Distinct contents for each sector: its LBA in every 4-byte slot."""
    return lba.to_bytes(4, "little") * 128


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(b"".join(pattern(i) for i in range(SECTORS)))
    return path


@pytest.fixture
def h():
    return Harness()


@pytest.fixture
def disk(h, image):
    d = h.plug(ATADisk(image))
    yield d
    d.close()


def wait_ready(b):
    """xv6 idewait: (status & (BSY|DRDY)) == DRDY, then no DF|ERR."""
    for _ in range(1000):
        st = b.inb(STATUS)
        if st & (BSY | DRDY) == DRDY:
            return st
    raise AssertionError(f"drive never ready: {st:#x}")


def issue(b, cmd, lba=0, count=1, drive=0xE0):
    b.outb(CTRL, 0)
    b.outb(COUNT, count & 0xFF)
    b.outb(LBA0, lba & 0xFF)
    b.outb(LBA1, lba >> 8 & 0xFF)
    b.outb(LBA2, lba >> 16 & 0xFF)
    b.outb(DRIVE, drive | (lba >> 24 & 0x0F))
    b.outb(STATUS, cmd)


def insl(b, port, n):
    return b"".join(b.inl(port).to_bytes(4, "little") for _ in range(n))


def outsl(b, port, data):
    for i in range(0, len(data), 4):
        b.outl(port, int.from_bytes(data[i:i + 4], "little"))


# -- construction ----------------------------------------------------------------------

def test_missing_and_bad_images_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="ATA disk image not found"):
        ATADisk(tmp_path / "nope.img")
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(1000))
    with pytest.raises(ValueError, match="multiple of 512"):
        ATADisk(odd)
    odd.write_bytes(b"")
    with pytest.raises(ValueError, match="multiple of 512"):
        ATADisk(odd)


def test_power_on_state(h, disk):
    b = h.ports
    assert disk.port_ranges == ((0x1F0, 8), (0x3F6, 1)) and disk.irqs == (14,)
    assert b.inb(STATUS) == 0x50 and b.inb(ERROR) == 0x01
    assert (b.inb(COUNT), b.inb(LBA0), b.inb(LBA1), b.inb(LBA2)) == (1, 1, 0, 0)
    assert b.inw(DATA) == 0xFFFF        # no DRQ: the data bus floats


# -- IDENTIFY ----------------------------------------------------------------------------

def test_identify_fields(h, disk):
    b = h.ports
    wait_ready(b)
    issue(b, 0xEC, count=0, lba=0)
    assert h.level() and b.inb(CTRL) & DRQ and h.level()   # alternate status: no ack
    assert b.inb(STATUS) == DRDY | 0x10 | DRQ and not h.level()
    block = b.insw(DATA, 256)
    w = [int.from_bytes(block[i:i + 2], "little") for i in range(0, 512, 2)]
    raw = b"".join(x.to_bytes(2, "big") for x in w[27:47])    # undo the byte swap
    assert raw.decode().rstrip() == "MK ATA DISK"
    assert w[0] == 0x0040 and w[49] & 0x0200
    assert w[60] | w[61] << 16 == SECTORS
    assert w[47] & 0xFF == 128 and w[59] == 0
    assert not b.inb(STATUS) & DRQ and not h.level()          # no interrupt after the block


def test_identify_of_the_absent_slave_is_ignored(h, disk):
    b = h.ports
    b.outb(DRIVE, 0xF0)                 # xv6 probes drive 1 and wants a zero status
    assert b.inb(STATUS) == 0 and b.inb(CTRL) == 0 and b.inb(DRIVE) == 0xF0
    b.outb(STATUS, 0xEC)
    assert not h.levels and b.inb(STATUS) == 0
    b.outb(DRIVE, 0xE0)
    assert b.inb(STATUS) == 0x50


# -- reading -------------------------------------------------------------------------------

def test_single_sector_read(h, disk):
    b = h.ports
    issue(b, 0x20, lba=5)
    assert b.inb(STATUS) & DRQ
    assert b.insw(DATA, 256) == pattern(5)
    assert b.inb(STATUS) == 0x50


def test_multi_sector_read_interrupts_per_sector(h, disk):
    b = h.ports
    issue(b, 0x21, lba=10, count=3)
    got = b""
    for _ in range(3):
        assert h.level()
        assert b.inb(STATUS) & (BSY | DRQ) == DRQ and not h.level()
        got += b.insw(DATA, 256)
    assert got == b"".join(pattern(i) for i in (10, 11, 12))
    assert not h.level() and b.inb(STATUS) == 0x50
    assert h.levels == [(14, True), (14, False)] * 3


def test_string_read_spans_sector_boundaries(h, disk):
    b = h.ports
    issue(b, 0x20, lba=1, count=3)
    first = b.insw(DATA, 100)
    rest = b.insw(DATA, 3 * 256 - 100 + 8)           # 8 words beyond the end float
    assert first + rest[:-16] == pattern(1) + pattern(2) + pattern(3)
    assert rest[-16:] == b"\xff" * 16


def test_count_zero_means_256(h, tmp_path):
    path = tmp_path / "big.img"
    path.write_bytes(bytes(300 * 512))
    d = h.plug(ATADisk(path))
    issue(h.ports, 0x20, lba=0, count=0)
    assert len(h.ports.insw(DATA, 256 * 256)) == 256 * 512 and h.ports.inb(STATUS) == 0x50
    d.close()


# -- writing -------------------------------------------------------------------------------

def test_multi_sector_write_lands_in_the_file(h, disk, image):
    b = h.ports
    issue(b, 0x30, lba=7, count=2)
    assert b.inb(STATUS) & DRQ and not h.levels       # no interrupt before the first sector
    b.outsw(DATA, b"A" * 512)
    assert h.level() and b.inb(STATUS) & DRQ           # sector done, next one wanted
    assert image.read_bytes()[7 * 512:8 * 512] == b"A" * 512   # written through already
    b.outsw(DATA, b"B" * 512)
    assert h.level() and b.inb(STATUS) == 0x50 and not h.level()
    data = image.read_bytes()
    assert data[7 * 512:9 * 512] == b"A" * 512 + b"B" * 512
    assert data[6 * 512:7 * 512] == pattern(6) and data[9 * 512:10 * 512] == pattern(9)


def test_write_then_flush_then_read_back(h, disk, image):
    b = h.ports
    issue(b, 0x31, lba=SECTORS - 1)
    for i in range(256):
        b.outw(DATA, i)
    b.inb(STATUS)
    issue(b, 0xE7)
    assert h.level() and b.inb(STATUS) == 0x50
    issue(b, 0x20, lba=SECTORS - 1)
    assert [b.inw(DATA) for _ in range(256)] == list(range(256))
    disk.close()
    assert image.read_bytes()[-512:] == b"".join(i.to_bytes(2, "little") for i in range(256))


def test_read_write_multiple(h, disk, image):
    b = h.ports
    issue(b, 0xC4, count=4)             # before SET MULTIPLE MODE: aborted
    assert b.inb(STATUS) & ERR and b.inb(ERROR) == 0x04
    issue(b, 0xC6, count=3)             # not a power of two
    assert b.inb(STATUS) & ERR
    issue(b, 0xC6, count=2)
    assert b.inb(STATUS) == 0x50
    issue(b, 0xC5, lba=20, count=4)
    b.outsw(DATA, b"M" * 1024)
    assert h.level() and b.inb(STATUS) & DRQ          # one interrupt per 2-sector block
    b.outsw(DATA, b"N" * 1024)
    assert b.inb(STATUS) == 0x50
    assert image.read_bytes()[20 * 512:24 * 512] == b"M" * 1024 + b"N" * 1024
    h.levels.clear()
    issue(b, 0xC4, lba=20, count=4)
    b.inb(STATUS)
    assert b.insw(DATA, 512) == b"M" * 1024 and h.level()


def test_xv6_ide_sequence(h, disk, image):
    """ide.c idestart/ideintr: no status poll between the write command and outsl."""
    b = h.ports
    wait_ready(b)
    issue(b, 0x30, lba=3)
    outsl(b, DATA, b"xv6!" * 128)
    assert h.level()
    assert wait_ready(b) & (DF | ERR) == 0 and not h.level()
    assert image.read_bytes()[3 * 512:4 * 512] == b"xv6!" * 128
    wait_ready(b)
    issue(b, 0x20, lba=3)
    assert h.level()                    # ideintr: idewait(1) then insl
    assert wait_ready(b) & (DF | ERR) == 0
    assert insl(b, DATA, 128) == b"xv6!" * 128


def test_chs_addressing(h, disk):
    b = h.ports
    b.outb(COUNT, 1)
    b.outb(LBA0, 3)                     # sector 3 of cylinder 0, head 0: LBA 2
    b.outb(LBA1, 0)
    b.outb(LBA2, 0)
    b.outb(DRIVE, 0xA0)
    b.outb(STATUS, 0x20)
    assert b.insw(DATA, 256) == pattern(2)
    b.outb(LBA0, 0)                     # sector numbers start at 1
    b.outb(STATUS, 0x20)
    assert b.inb(STATUS) & ERR and b.inb(ERROR) == 0x10


# -- errors, interrupts, reset -----------------------------------------------------------

def test_unknown_command_aborts(h, disk):
    b = h.ports
    issue(b, 0xA1)                      # IDENTIFY PACKET DEVICE: we are no ATAPI drive
    assert h.level()
    assert b.inb(STATUS) == DRDY | 0x10 | ERR and b.inb(ERROR) == 0x04
    issue(b, 0xEF)                      # SET FEATURES: accepted, clears ERR
    assert b.inb(STATUS) == 0x50 and b.inb(ERROR) == 0


@pytest.mark.parametrize("lba,count", [(SECTORS, 1), (SECTORS - 2, 3), (1 << 27, 1)])
def test_past_the_end_is_idnf_and_touches_nothing(h, disk, image, lba, count):
    b = h.ports
    before = image.read_bytes()
    issue(b, 0x30, lba=lba, count=count)
    assert b.inb(STATUS) & (ERR | DRQ) == ERR and b.inb(ERROR) == 0x10
    b.outsw(DATA, b"Z" * 512 * count)  # ignored: no DRQ
    issue(b, 0x20, lba=lba, count=count)
    assert b.inb(STATUS) & ERR and b.insw(DATA, 4) == b"\xff" * 8
    assert image.read_bytes() == before and os.path.getsize(image) == SECTORS * 512


def test_nien_masks_the_line(h, disk):
    b = h.ports
    issue(b, 0x20, lba=0)
    b.inb(STATUS)
    b.insw(DATA, 256)
    b.outb(CTRL, 0x02)                  # nIEN
    b.outb(STATUS, 0xE7)
    assert not h.level()
    b.outb(CTRL, 0x00)                  # the pending interrupt shows once unmasked
    assert h.level() and b.inb(STATUS) == 0x50 and not h.level()


def test_commands_while_drq_are_ignored_and_srst_recovers(h, disk):
    b = h.ports
    issue(b, 0x20, lba=4, count=2)
    b.insw(DATA, 10)
    b.outb(STATUS, 0xEC)                # ignored mid-transfer
    assert b.inw(DATA) == int.from_bytes(pattern(4)[20:22], "little")
    b.outb(CTRL, 0x04)                  # SRST
    assert b.inb(STATUS) & BSY and not h.level()
    b.outb(CTRL, 0x00)
    assert b.inb(STATUS) == 0x50 and not h.level() and b.inb(ERROR) == 1
    assert (b.inb(COUNT), b.inb(LBA0), b.inb(LBA1), b.inb(LBA2)) == (1, 1, 0, 0)
    assert b.inw(DATA) == 0xFFFF


def test_latency_shows_bsy_until_the_clock_fires(h, image):
    d = h.plug(ATADisk(image, latency=0.001))
    b = h.ports
    issue(b, 0x20, lba=2, count=2)
    assert b.inb(STATUS) & (BSY | DRQ) == BSY and not h.level()
    h.clock.advance(0.001)
    assert h.level() and b.inb(STATUS) & (BSY | DRQ) == DRQ
    b.insw(DATA, 256)
    assert b.inb(STATUS) & BSY and b.inw(DATA) == 0xFFFF
    h.clock.advance(0.001)
    assert b.insw(DATA, 256) == pattern(3)
    issue(b, 0x30, lba=2)               # write: DRQ at once, BSY while it is written
    assert b.inb(STATUS) & DRQ
    b.outsw(DATA, bytes(512))
    assert b.inb(STATUS) & BSY and not h.level()
    h.clock.advance(0.001)
    assert h.level() and b.inb(STATUS) == 0x50
    d.close()


def test_unplug_mid_command_and_closed_image(h, disk):
    b = h.ports
    issue(b, 0x20, lba=0)
    disk.unplugged()
    assert not h.level() and disk.status == 0x50
    disk.close()
    disk.plugged(h, {14: IrqLine(14, lambda i, lv: h.levels.append((i, lv)))})
    issue(b, 0x20, lba=0)
    assert b.inb(STATUS) & ERR
