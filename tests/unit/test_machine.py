"""hw.Machine as the kernel's operator port uses it: plug a card of a kind, tune the
disk's timing, unplug; what does not fit or cannot be tuned is refused."""
import pytest

from hw import Machine
from hw.clock import VirtualClock
from hw.device import BadAccess


@pytest.fixture
def machine():
    m = Machine(mem_size=1 << 20, clock=VirtualClock())
    yield m
    m.close()


def test_plug_builds_each_kind_and_unplug_frees_its_ports(machine, tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(64 * 512))
    uart = machine.plug("uart", "com3", 0x3E8, 5)
    nic = machine.plug("nic", "net1", 0x320, 10)
    disk = machine.plug("ata", "ata1", 0x170, 15, disk=str(image))
    assert machine.devices["com3"] is uart and machine.devices["net1"] is nic
    assert disk.port_ranges == ((0x170, 8), (0x376, 1))      # control port: base + 0x206
    for name in ("com3", "net1", "ata1"):
        assert machine.unplug(name).machine is None
    assert machine.ports.inb(0x3E8) == 0xFF and not {"com3", "net1", "ata1"} & set(machine.devices)


def test_plug_refuses_an_unknown_kind_and_a_taken_line(machine):
    with pytest.raises(ValueError, match="no device model of kind 'fdc'"):
        machine.plug("fdc", "fd0", 0x3F0, 6)
    with pytest.raises(BadAccess, match="IRQ 4"):
        machine.plug("uart", "com3", 0x3E8, 4)         # COM1's line
    assert "com3" not in machine.devices


def test_tune_sets_the_disks_timing_and_nothing_else(machine, tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(64 * 512))
    disk = machine.plug("ata", "ata1", 0x170, 15, disk=str(image))
    machine.tune("ata1", "rate", 16.6e6)
    machine.tune("ata1", "latency", 0.002)
    assert (disk.rate, disk.latency) == (16.6e6, 0.002)
    with pytest.raises(ValueError, match="'path' of ata1 cannot be tuned"):
        machine.tune("ata1", "path", 1.0)
    with pytest.raises(ValueError, match="'rate' of com1 cannot be tuned"):
        machine.tune("com1", "rate", 1.0)
    with pytest.raises(ValueError, match="out of range"):
        machine.tune("ata1", "latency", -1.0)
