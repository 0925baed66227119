"""hw.i8259: the 8259A pair, driven through its ports exactly as Linux and xv6 program it."""
import pytest

from hw.device import BadAccess
from hw.i8259 import PICPair
from hw.ports import PortBus

M_CMD, M_DATA, S_CMD, S_DATA = 0x20, 0x21, 0xA0, 0xA1


class Rig:
    """A port bus with just the PIC on it (the machine attaches the PIC with no lines)."""

    def __init__(self):
        self.bus = PortBus()
        self.pic = PICPair()
        for base, count in self.pic.port_ranges:
            self.bus.register(self.pic, base, count)
        self.pic.plugged(object(), {})

    def out(self, port, value):
        self.bus.outb(port, value)

    def inb(self, port):
        return self.bus.inb(port)

    def isr(self, cmd_port):
        self.out(cmd_port, 0x0B)
        v = self.inb(cmd_port)
        self.out(cmd_port, 0x0A)
        return v

    def edge(self, irq):
        self.pic.set_irq(irq, True)
        self.pic.set_irq(irq, False)


def linux_init(r, base=0x20):
    """arch/x86/kernel/i8259.c: probe_8259A then init_8259A(auto_eoi=0), outb_pic delays."""
    r.out(S_DATA, 0xFF)                      # probe: mask the slave,
    r.out(M_DATA, 0xFB)                      # everything but the cascade on the master,
    assert r.inb(M_DATA) == 0xFB             # and read it back (no PIC would give 0xff)
    r.out(M_DATA, 0xFF)
    r.out(S_DATA, 0xFF)
    for port, value in [(M_CMD, 0x11), (M_DATA, base), (M_DATA, 1 << 2), (M_DATA, 0x01),
                        (S_CMD, 0x11), (S_DATA, base + 8), (S_DATA, 2), (S_DATA, 0x01)]:
        r.out(port, value)
        r.out(0x80, 0)                       # outb_pic's I/O delay: an unclaimed port
    r.out(M_DATA, 0xFB)                      # cached_master_mask
    r.out(S_DATA, 0xFF)                      # cached_slave_mask


def linux_mask_and_ack(r, irq, mask):
    """mask_and_ack_8259A: mask the line, then specific EOI (slave first, then IR2)."""
    mask |= 1 << irq
    if irq & 8:
        r.inb(S_DATA)
        r.out(S_DATA, mask >> 8)
        r.out(S_CMD, 0x60 + (irq & 7))
        r.out(M_CMD, 0x60 + 2)
    else:
        r.inb(M_DATA)
        r.out(M_DATA, mask & 0xFF)
        r.out(M_CMD, 0x60 + irq)
    return mask


def xv6_init(r, irqmask):
    """xv6-public picirq.c initpic(): AEOI on both chips, OCW3 0x68 then 0x0a."""
    r.out(M_DATA, 0xFF)
    r.out(S_DATA, 0xFF)
    r.out(M_CMD, 0x11)
    r.out(M_DATA, 32)                        # T_IRQ0
    r.out(M_DATA, 1 << 2)                    # 1<<IRQ_SLAVE
    r.out(M_DATA, 0x3)
    r.out(S_CMD, 0x11)
    r.out(S_DATA, 32 + 8)
    r.out(S_DATA, 2)                         # IRQ_SLAVE
    r.out(S_DATA, 0x3)
    r.out(M_CMD, 0x68)
    r.out(M_CMD, 0x0A)
    r.out(S_CMD, 0x68)
    r.out(S_CMD, 0x0A)
    r.out(M_DATA, irqmask & 0xFF)            # picsetmask
    r.out(S_DATA, irqmask >> 8)


@pytest.fixture
def rig():
    return Rig()


# -- the real initialisation sequences -------------------------------------------------------

@pytest.mark.parametrize("base", [0x20, 0x30])  # 2.4-era ICW2 and today's ISA_IRQ_VECTOR(0)
def test_linux_sequence_timer_irq_gives_vector_and_specific_eoi_clears_it(rig, base):
    linux_init(rig, base)
    mask = 0xFFFB & ~1                       # enable IRQ0
    rig.out(M_DATA, mask & 0xFF)
    assert not rig.pic.intr
    rig.edge(0)
    assert rig.pic.intr
    assert rig.pic.inta() == base
    assert rig.isr(M_CMD) == 0x01 and not rig.pic.intr
    mask = linux_mask_and_ack(rig, 0, mask)
    assert rig.isr(M_CMD) == 0 and rig.inb(M_DATA) == 0xFB
    rig.out(M_DATA, 0xFA)                    # unmask_8259A_irq
    rig.edge(0)
    assert rig.pic.inta() == base


def test_linux_sequence_slave_irq_goes_through_ir2_and_needs_both_eois(rig):
    linux_init(rig)
    rig.out(S_DATA, 0xFF & ~(1 << 6))        # enable IRQ14
    rig.edge(14)
    assert rig.pic.intr
    assert rig.pic.inta() == 0x2E
    assert rig.isr(S_CMD) == 0x40 and rig.isr(M_CMD) == 0x04
    rig.edge(14)                             # blocked while in service
    assert not rig.pic.intr
    linux_mask_and_ack(rig, 14, 0xBFFB)
    assert rig.isr(S_CMD) == 0 and rig.isr(M_CMD) == 0
    assert not rig.pic.intr                  # the new request is masked now
    rig.out(S_DATA, 0xBF)
    assert rig.pic.inta() == 0x2E


def test_xv6_sequence_auto_eoi_needs_no_eoi(rig):
    xv6_init(rig, 0xFFFF & ~(1 << 2) & ~1 & ~(1 << 1) & ~(1 << 14))
    assert rig.pic.master.special_mask       # 0x68 *sets* special mask mode (ESMM=SMM=1)
    rig.edge(1)
    assert rig.pic.inta() == 33
    assert rig.isr(M_CMD) == 0 and not rig.pic.intr
    rig.edge(1)
    assert rig.pic.inta() == 33
    rig.edge(14)
    assert rig.pic.inta() == 46
    assert rig.isr(M_CMD) == 0 and rig.isr(S_CMD) == 0
    rig.out(M_CMD, 0x20)                     # a stray EOI is harmless
    rig.edge(0)
    assert rig.pic.inta() == 32


def test_xv6_sequence_reads_irr_by_default_and_masked_requests_stay_pending(rig):
    xv6_init(rig, 0xFFFB)
    rig.edge(1)
    assert not rig.pic.intr
    assert rig.inb(M_CMD) == 0x02            # OCW3 0x0a: base+0 reads the IRR
    rig.out(M_DATA, 0xF9)                    # picenable(1)
    assert rig.pic.intr and rig.pic.inta() == 33
    assert rig.inb(M_CMD) == 0


def test_slave_in_auto_eoi_delivers_two_pending_requests_in_turn(rig):
    xv6_init(rig, 0xFFFF & ~(1 << 2) & ~(3 << 14))
    rig.pic.set_irq(14, True)
    rig.pic.set_irq(15, True)
    assert rig.pic.inta() == 46
    assert rig.pic.intr                      # the slave's INT stayed up: IR2 re-latched
    assert rig.pic.inta() == 47
    assert not rig.pic.intr


# -- ICW state machine -----------------------------------------------------------------------

def test_reset_state_imr_clear_base_zero_reads_irr(rig):
    assert rig.inb(M_DATA) == 0 and rig.inb(S_DATA) == 0
    rig.edge(3)
    assert rig.inb(M_CMD) == 0x08
    assert rig.pic.inta() == 3


def test_single_mode_without_icw4_skips_icw3_and_icw4(rig):
    rig.out(M_CMD, 0x12)                     # SNGL=1, IC4=0
    rig.out(M_DATA, 0x40)                    # ICW2
    rig.out(M_DATA, 0x08)                    # already OCW1: mask IRQ3
    assert rig.inb(M_DATA) == 0x08
    rig.edge(3)
    assert not rig.pic.intr
    rig.edge(4)
    assert rig.pic.inta() == 0x44


def test_single_mode_with_icw4_skips_icw3_only(rig):
    rig.out(M_CMD, 0x13)
    rig.out(M_DATA, 0x48)
    rig.out(M_DATA, 0x03)                    # ICW4 with AEOI
    rig.out(M_DATA, 0x00)                    # OCW1
    assert rig.pic.master.auto_eoi and rig.inb(M_DATA) == 0
    rig.edge(5)
    assert rig.pic.inta() == 0x4D and rig.isr(M_CMD) == 0


def test_cascade_without_icw4_takes_icw3_then_imr(rig):
    rig.out(M_CMD, 0x10)
    rig.out(M_DATA, 0x58)                    # ICW2: low bits ignored -> 0x58
    rig.out(M_DATA, 0x04)                    # ICW3
    rig.out(M_DATA, 0xEF)                    # OCW1
    assert rig.inb(M_DATA) == 0xEF and not rig.pic.master.auto_eoi
    rig.edge(4)
    assert rig.pic.inta() == 0x5C


def test_icw1_clears_imr_isr_irr(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.edge(0)
    rig.edge(1)
    assert rig.pic.inta() == 0x20
    rig.out(M_CMD, 0x11)
    assert rig.inb(M_DATA) == 0 and rig.pic.isr == 0 and rig.pic.irr == 0
    assert not rig.pic.intr


# -- requests, priority, EOI -----------------------------------------------------------------

def test_edges_latch_once_a_held_line_does_not_retrigger(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.pic.set_irq(3, True)
    assert rig.pic.inta() == 0x23
    rig.out(M_CMD, 0x20)
    assert not rig.pic.intr                  # still high, no new edge
    rig.pic.set_irq(3, False)
    assert not rig.pic.intr
    rig.pic.set_irq(3, True)
    assert rig.pic.intr


def test_lowering_the_line_does_not_withdraw_a_latched_edge(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.edge(4)                              # IrqLine.pulse(): raise then lower at once
    assert rig.pic.intr and rig.pic.inta() == 0x24


def test_fixed_priority_and_in_service_blocks_lower_levels(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.out(S_DATA, 0x00)
    rig.edge(3)
    rig.edge(1)
    rig.edge(9)
    assert rig.pic.inta() == 0x21            # IR1 beats IR2 (slave) and IR3
    assert not rig.pic.intr                  # all lower than IR1, which is in service
    rig.edge(0)
    assert rig.pic.inta() == 0x20            # IR0 nests over IR1
    rig.out(M_CMD, 0x20)                     # non-specific EOI: clears IR0 (the highest)
    assert rig.isr(M_CMD) == 0x02 and not rig.pic.intr
    rig.out(M_CMD, 0x20)
    assert rig.pic.inta() == 0x29            # the slave sits at IR2's place: before IR3
    assert not rig.pic.intr
    rig.out(S_CMD, 0x20)
    rig.out(M_CMD, 0x20)
    assert rig.pic.inta() == 0x23


def test_specific_eoi_clears_only_its_level(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.edge(5)
    rig.pic.inta()
    rig.edge(1)
    rig.pic.inta()
    assert rig.isr(M_CMD) == 0x22
    rig.out(M_CMD, 0x65)
    assert rig.isr(M_CMD) == 0x02


def test_rotate_on_nonspecific_eoi_makes_the_serviced_level_lowest(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.edge(1)
    assert rig.pic.inta() == 0x21
    rig.out(M_CMD, 0xA0)                     # rotate on non-specific EOI
    rig.edge(1)
    rig.edge(4)
    assert rig.pic.inta() == 0x24            # IR2..IR7, IR0, IR1 now


def test_masking_keeps_the_request_and_unmasking_delivers_it(rig):
    linux_init(rig)
    rig.out(M_DATA, 0xFF)
    rig.edge(6)
    assert not rig.pic.intr and rig.pic.irr & 0x40
    rig.out(M_DATA, 0xBF)
    assert rig.pic.intr and rig.pic.inta() == 0x26


def test_poll_command_acknowledges_like_inta(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.out(M_CMD, 0x0C)
    assert rig.inb(M_CMD) == 0               # nothing pending
    rig.edge(5)
    rig.out(M_CMD, 0x0C)
    assert rig.inb(M_CMD) == 0x85
    assert rig.isr(M_CMD) == 0x20 and not rig.pic.intr


# -- spurious interrupts ---------------------------------------------------------------------

def test_request_masked_before_inta_gives_spurious_irq7_without_isr(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.edge(3)
    assert rig.pic.intr
    rig.out(M_DATA, 0x08)                    # masked between INTR and INTA
    assert rig.pic.inta() == 0x27
    assert rig.isr(M_CMD) == 0 and rig.pic.spurious == 1


def test_withdrawn_request_gives_spurious_irq7(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    rig.edge(7)
    rig.pic.withdraw(7)
    assert rig.pic.inta() == 0x27 and rig.isr(M_CMD) == 0


def test_spurious_irq15_sets_master_ir2_in_service_only(rig):
    linux_init(rig)
    rig.out(S_DATA, 0x00)
    rig.edge(10)
    assert rig.pic.intr
    rig.pic.withdraw(10)                     # gone from the slave; master IR2 is latched
    assert rig.pic.inta() == 0x2F
    assert rig.isr(S_CMD) == 0 and rig.isr(M_CMD) == 0x04
    rig.out(M_CMD, 0x20)                     # EOI to the master only
    assert rig.pic.isr == 0 and not rig.pic.intr


# -- the CPU-side interface ------------------------------------------------------------------

def test_on_intr_fires_on_each_rising_edge_of_int(rig):
    linux_init(rig)
    rig.out(M_DATA, 0x00)
    calls = []
    rig.pic.on_intr = lambda: calls.append(rig.pic.intr)
    rig.edge(3)
    rig.edge(4)                              # INT already high: no new call
    assert calls == [True]
    rig.pic.inta()
    assert calls == [True]                   # IR4 is blocked by IR3 in service
    rig.out(M_CMD, 0x20)                     # EOI unblocks IR4: INT rises again
    assert calls == [True, True]


def test_irq_of_vector_follows_icw2(rig):
    linux_init(rig, 0x30)
    assert rig.pic.irq_of_vector(0x30) == 0
    assert rig.pic.irq_of_vector(0x37) == 7
    assert rig.pic.irq_of_vector(0x38) == 8
    assert rig.pic.irq_of_vector(0x3F) == 15
    assert rig.pic.irq_of_vector(0x2F) is None and rig.pic.irq_of_vector(0x40) is None


def test_bad_inputs_are_refused(rig):
    with pytest.raises(BadAccess, match="cascade"):
        rig.pic.set_irq(2, True)
    with pytest.raises(BadAccess):
        rig.pic.set_irq(16, True)
    with pytest.raises(BadAccess, match="8-bit"):
        rig.bus.inw(M_CMD)
