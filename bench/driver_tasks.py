"""Task code for `mk bench drivers`: disk throughput through the user-level ATA driver,
interrupt latency into a user-level driver, and null RPCs measured in the same task:
runs of 1,000 before the first interrupt and after the last, and after each interrupt
one single null RPC made from idle, as the interrupt came (its paired floor).
Each prints one line `WORD json` that bench/drivers.py reads from the task's log."""
import json
import time

from drivers.driver import start
from microkernel.abi import Msg, irq_id
from protocols.block import MAX_COUNT, SECTOR, BlockDevice
from protocols.server import serve

CHUNK = MAX_COUNT * SECTOR            # the block protocol's largest request
PAIR_IDLE = 0.002                     # s idle before each interrupt's paired null RPC


def disk_rw(rt, mib):
    """Write then read `mib` MiB through ata0 in the largest requests; prints DISK."""
    disk = BlockDevice(rt, "ata0")
    total = int(mib) << 20
    data = bytes(range(256)) * (CHUNK // 256)
    t0 = time.perf_counter_ns()
    for off in range(0, total, CHUNK):
        disk.write(off // SECTOR, data)
    t1 = time.perf_counter_ns()
    ok = True
    for off in range(0, total, CHUNK):
        ok &= disk.read(off // SECTOR, CHUNK // SECTOR) == data
    t2 = time.perf_counter_ns()
    print("DISK", json.dumps({"write_ns": t1 - t0, "read_ns": t2 - t1, "ok": ok}), flush=True)


def _echo(rt):
    """lthread 1: the null RPC's server, answering every message with its words."""
    serve(rt, lambda msg: Msg(words=msg.words))


def _null_rpc(rt, me1, n: int = 1000) -> float:
    """ns per null RPC to lthread 1, over `n` calls."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        rt.call(me1, Msg(words=(1, 2)))
    return (time.perf_counter_ns() - t0) / n


def irq_latency(rt, name, names_id):
    """As the driver of COM2: one receive interrupt per byte the bench types."""
    start(rt, name, names_id).register(rt)
    base, irq = 0x2F8, 3
    rt.outb(base + 1, 0)                # IER off while setting up
    rt.outb(base + 3, 0x80)             # DLAB
    rt.outb(base + 0, 1)                # 115200
    rt.outb(base + 1, 0)
    rt.outb(base + 3, 0x03)             # 8N1
    rt.outb(base + 2, 0x00)             # no FIFO: an interrupt per byte
    rt.outb(base + 4, 0x0B)             # DTR, RTS, OUT2 (the PC's IRQ gate)
    rt.outb(base + 1, 0x01)             # receive-data interrupts
    rt.lthread_ex_regs(1, _echo)
    me1 = rt.myself().lthread_id(1)
    for _ in range(200):
        rt.call(me1, Msg(words=(1, 2)))
    null_ns = [_null_rpc(rt, me1)]
    print("READY", flush=True)
    stamps, done = [], False
    while not done:
        rt.receive(irq_id(irq))
        now = time.monotonic_ns()
        got = []
        while not rt.inb(base + 2) & 1:          # IIR: drain until no cause is left, so
            byte = rt.inb(base)                  # the line falls and the next byte is a
            if byte == 0xFF:                     # fresh edge for the (edge) PIC
                done = True
            else:
                got.append(byte)
        if got:                                  # its pair: one null RPC from idle too
            time.sleep(PAIR_IDLE)
            t0 = time.perf_counter_ns()
            rt.call(me1, Msg(words=(1, 2)))
            # only the first byte of a drain came with this interrupt: any after it
            # arrived while draining, after `now`
            stamps.append([got[0], now, time.perf_counter_ns() - t0])
    null_ns.append(_null_rpc(rt, me1))
    print("IRQ", json.dumps({"null_rpc_ns": null_ns, "stamps": stamps}), flush=True)
    rt.receive(0)
