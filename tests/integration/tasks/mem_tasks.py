"""Task code for map/grant/flush, task_new and clans, sigma0 and interrupts.

A parent asks root (its chief) for task numbers, creates children in its own clan, and
passes pages to them; children report back by IPC, and everyone prints what the test
checks."""
import time

from hw.mmu import PageFault, translate
from microkernel.abi import (Fpage, GrantItem, IpcError, KernelError, MapItem, Msg,
                             ThreadId, irq_id)
from microkernel.abi.ops import NEAREST_OUTER, NEAREST_SAME, TASK_EXIT_NOTICE
from protocols.client import Service
from protocols.pager import PAGER, Op as PagerOp
from protocols.root import Root
from protocols.sigma0 import grab_page

HERE = __file__


def new_child(rt, func: str, *args) -> ThreadId:
    """Get a task number from root and start `func` of this file in it, in my clan."""
    no = Root(rt).alloc_task()
    return rt.task_new(no, f"{HERE}:{func}", rt.pager, args=[int(a) for a in args])


def pte_state(rt, vaddr: int) -> str:
    """What the MMU says of my page at vaddr: 'rw', 'ro' or 'absent'."""
    try:
        translate(rt.mem.phys, rt.mem.cr3, vaddr, True, True)
        return "rw"
    except PageFault as pf:
        if not pf.error_code & 1:
            return "absent"
    translate(rt.mem.phys, rt.mem.cr3, vaddr, False, True)
    return "ro"


# -- map, grant, flush, remap ----------------------------------------------------------

def parent_map(rt):
    rt.mem.write(0x100000, b"shared-data")
    rt.mem.write(0x101000, b"granted")
    child = new_child(rt, "child_map", rt.myself())
    rt.send(child, Msg(items=(MapItem(Fpage.page(0x100000), 0x100000),)))
    r = rt.receive(child)                       # the child wrote through the mapping
    print("parent sees", rt.mem.read(0x100000, 10))
    rt.fpage_unmap(Fpage.page(0x100000), flush=False)            # remap read-only
    rt.call(child, Msg(words=(1,)))
    rt.fpage_unmap(Fpage.page(0x100000), flush=True)             # flush
    rt.call(child, Msg(words=(2,)))
    print("parent keeps", pte_state(rt, 0x100000))
    rt.send(child, Msg(items=(GrantItem(Fpage.page(0x101000), 0x101000),)))
    print("after grant parent has", pte_state(rt, 0x101000))
    rt.call(child, Msg(words=(3,)))
    _ = r


def child_map(rt, parent):
    parent = ThreadId(parent)
    m = rt.receive(parent, window=Fpage.of(0x200000, 1 << 21))
    print("child got fpage", m.fpage_received, rt.mem.read(0x300000, 11))
    rt.mem.write(0x300000, b"from-child")
    rt.send(parent, Msg(words=(0,)))
    m = rt.receive(parent)
    print("after remap", pte_state(rt, 0x300000))
    m = rt.reply_and_wait(parent, Msg())
    print("after flush", pte_state(rt, 0x300000))
    m = rt.ipc(parent, Msg(), 0, 1, parent, window=Fpage.of(0x400000, 1 << 12))
    print("granted", m.fpage_received, rt.mem.read(0x400000, 7))
    rt.receive(parent)                           # the call that ends the test
    rt.send(parent, Msg())


# -- recursive flush through three spaces ----------------------------------------------

def parent_chain(rt):
    rt.mem.write(0x100000, b"chain")
    b = new_child(rt, "chain_b", rt.myself())
    c = new_child(rt, "chain_c", rt.myself())
    rt.send(b, Msg(words=(int(c) & 0xFFFFFFFF, int(c) >> 32),
                   items=(MapItem(Fpage.page(0x100000), 0),)))
    print("c saw", bytes(rt.receive(c).strings[0]))
    rt.fpage_unmap(Fpage.page(0x100000), flush=True)
    rt.send(c, Msg())
    print("c after flush", rt.receive(c).strings[0].decode())
    rt.send(b, Msg())


def chain_b(rt, parent):
    parent = ThreadId(parent)
    m = rt.receive(parent, window=Fpage.of(0x500000, 1 << 12))
    c = ThreadId(m.words[1] << 32 | m.words[0])
    rt.send(c, Msg(items=(MapItem(Fpage.page(0x500000), 0),)))
    rt.receive(parent)


def chain_c(rt, parent):
    parent = ThreadId(parent)
    rt.wait(window=Fpage.of(0x600000, 1 << 12))
    rt.send(parent, Msg(strings=(rt.mem.read(0x600000, 5),)))
    rt.receive(parent)
    rt.send(parent, Msg(strings=(pte_state(rt, 0x600000).encode(),)))


# -- tasks, clans, notices, versions -------------------------------------------------

def parent_clan(rt):
    me = rt.myself()
    child = new_child(rt, "clan_child", me)
    print("child chief", child.chief == me.task, "nest", child.nest == me.nest + 1)
    rel, near = rt.id_nearest(child)
    print("nearest child", rel == NEAREST_SAME, near == child)
    rel, near = rt.id_nearest(rt.sigma0)
    print("nearest sigma0", rel == NEAREST_OUTER, near == rt.chief())
    m = rt.call(child, Msg(words=(7,)))
    print("child replied", m.words)
    notice = rt.wait(timeout=10)
    print("notice", notice.words[0] == TASK_EXIT_NOTICE, notice.sender.task == child.task,
          "status", notice.words[1])
    try:
        rt.send(child, Msg(words=(1,)), timeout=0)
    except IpcError as e:
        print("stale", e.code.name)
    again = rt.task_new(child.task, f"{HERE}:clan_child", rt.pager, args=[int(me)])
    print("new version", again.version != child.version, again.task == child.task)
    rt.call(again, Msg(words=(8,)))
    rt.wait(timeout=10)
    try:
        rt.task_new(5, f"{HERE}:clan_child", rt.pager, args=[0])
    except KernelError as e:
        print("not mine", e.fault.name)


def clan_child(rt, parent):
    parent = ThreadId(parent)
    m = rt.receive(parent)
    rt.send(parent, Msg(words=(m.words[0] * 6,)))


def redirect_parent(rt, sibling):
    """A message from my child to my sibling leaves my clan: it comes to me."""
    sibling = int(sibling)
    child = new_child(rt, "redirect_child", rt.myself(), sibling)
    m = rt.wait(timeout=10)
    print("redirected", m.redirected, "intended", m.intended == ThreadId(sibling),
          "from child", m.sender == child, "words", m.words)
    rt.wait(timeout=10)          # the child's exit notice


def redirect_child(rt, parent, sibling):
    rt.send(ThreadId(sibling), Msg(words=(99,)))


def idle(rt):
    print("idle", int(rt.myself()), flush=True)
    rt.receive(0)


def caller(rt, server):
    server = int(server)
    try:
        rt.call(ThreadId(server), Msg(words=(1,)))
    except IpcError as e:
        print("caller got", e.code.name)


# -- sigma0 ----------------------------------------------------------------------------

def sigma0_once(rt, frame, hold="0"):
    frame = int(frame)
    got = grab_page(rt, frame, 0x700000)
    print("frame", got)
    if got:
        rt.mem.write(0x700000, b"mine")
        print("wrote", rt.mem.read(0x700000, 4), flush=True)
    if hold == "1":
        rt.receive(0)


# -- interrupts and I/O ports ----------------------------------------------------------

def _second_attacher(rt, out):
    try:
        rt.receive(irq_id(0), timeout=0)
    except IpcError as e:
        out.append(e.code.name)


def pit_irq(rt, name, names_id):
    """Started by root as driver `name`: the V2 IRQ protocol and I/O fpages, end to end."""
    from drivers.driver import start
    try:
        rt.inb(0x43)
    except KernelError as e:
        print("before grant", e.fault.name)
    drv = start(rt, name, names_id)              # ports from root, IRQ attached
    print("ports", drv.ports, "irq", drv.irq)
    out = []
    rt.lthread_ex_regs(1, _second_attacher, args=(out,))
    deadline = time.monotonic() + 5
    while not out and time.monotonic() < deadline:
        time.sleep(0.01)
    print("second", out)
    divisor = 11932                                   # ~100 Hz: one trap for all three
    rt.port_batch(("outb", 0x43, 0x34), ("outb", 0x40, divisor & 0xFF),
                  ("outb", 0x40, divisor >> 8))
    t0 = time.monotonic()
    got = [rt.receive(irq_id(0), timeout=2).sender for _ in range(10)]
    dt = time.monotonic() - t0
    print("irqs", all(s == irq_id(0) for s in got), "rate_ok", 0.05 < dt < 1.5)
    try:                                              # checked whole before any runs:
        rt.port_batch(("outb", 0x43, 0x30), ("inb", 0x60))   # the PIT is not stopped
    except KernelError as e:
        print("batch refused", e.fault.name, "still ticking",
              rt.receive(irq_id(0), timeout=2).sender == irq_id(0))
    rt.outb(0x43, 0x30)                               # mode 0, no count: stop
    try:
        rt.inb(0x60)
    except KernelError as e:
        print("not granted", e.fault.name, flush=True)
    rt.receive(0)                                     # stay until root stops us


# -- copy-on-write through the default pager -----------------------------------------

def cow_parent(rt):
    rt.mem.write(0x100000, b"original")
    child = new_child(rt, "cow_child", rt.myself())
    Service(rt, tid=rt.pager, iface=PAGER).call(PagerOp.COPY, int(child))
    print("parent after copy", pte_state(rt, 0x100000))
    rt.send(child, Msg())
    rt.receive(child)
    print("parent still reads", rt.mem.read(0x100000, 8))
    rt.mem.write(0x100000, b"parent!!")
    print("parent writes", pte_state(rt, 0x100000), rt.mem.read(0x100000, 8))
    rt.wait(timeout=10)


def cow_child(rt, parent):
    parent = ThreadId(parent)
    rt.receive(parent)
    print("child reads", rt.mem.read(0x100000, 8), pte_state(rt, 0x100000))
    rt.mem.write(0x100000, b"child!!!")
    print("child writes", rt.mem.read(0x100000, 8), pte_state(rt, 0x100000))
    rt.send(parent, Msg())


# -- an ended task's pages go back to the default pager -------------------------------

def page_writer(rt):
    rt.mem.write(0x100000, b"secret-page")
    print("wrote", rt.mem.read(0x100000, 11), flush=True)


def page_reader(rt):
    print("reads", rt.mem.read(0x100000, 11), flush=True)


# -- identity ----------------------------------------------------------------------------

def impostor(rt):
    """Try to be another thread: a HELLO with a wrong secret, a HELLO for a thread
    that is already attached, and a message whose body names another sender."""
    import zmq
    from microkernel.abi import ABI_VERSION, Op, decode_header, encode_header
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(rt.endpoint)
    s.send(encode_header([Op.HELLO, ABI_VERSION, rt.task_no, 3, b"0" * 16]))
    print("wrong secret", decode_header(s.recv())[1:2])
    s.send(encode_header([Op.HELLO, ABI_VERSION, 4, 0, rt._secret]))
    print("other task", decode_header(s.recv())[1:2])
    s.send(encode_header([Op.HELLO, ABI_VERSION, rt.task_no, 0, rt._secret]))
    print("taken", decode_header(s.recv())[1:2])
    s.send(encode_header([Op.IPC, int(rt.sigma0), [1], [], 0, 0, 0, 0, None, None]))
    print("no hello", decode_header(s.recv())[1:2])
    s.close()


def kernel_area(rt):
    """User space ends at 3 GiB: an access above is the task's MemoryFault, a fault
    report for it is refused, an fpage there cannot be built; the page below works."""
    from microkernel.abi import USER_TOP, Fault
    from microkernel.user.vmem import MemoryFault
    try:
        rt.mem.write(USER_TOP, b"x")
        print("kernel area written")
    except MemoryFault as e:
        print("kernel area fault", "kernel area" in str(e))
    try:
        rt._page_fault(0xF0001000, True, False)
    except KernelError as e:
        print("fault report refused", e.fault is Fault.BAD_ARGUMENT)
    rt.mem.write(USER_TOP - 0x1000, b"top page")
    print("last user page", rt.mem.read(USER_TOP - 0x1000, 8))
    try:
        Fpage(0xF0001000, 12)
    except ValueError as e:
        print("fpage refused", "kernel area" in str(e))


# -- a task whose process is a fork of another's -------------------------------------

def forker(rt):
    import os
    import signal
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)        # the kernel reaps nothing of ours
    no = Root(rt).alloc_task()
    child, secret = rt.task_new_forked(no, rt.pager)
    parent = rt.myself()
    rt.mem.write(0x100000, b"before fork")
    pid = os.fork()
    if pid == 0:
        try:
            rt.after_fork(child, secret)
            rt.send(parent, Msg(words=(os.getpid(),), strings=(str(rt.myself()).encode(),)))
        finally:
            os._exit(0)
    m = rt.receive(child, timeout=10)
    print("fork child", m.sender == child, m.words[0] == pid, m.strings[0].decode() == str(child))
    notice = rt.wait(timeout=10)
    print("fork notice", notice.words[0] == TASK_EXIT_NOTICE, notice.sender == child)
