"""Task code for map/grant/flush, task_new and clans, sigma0 and interrupts.

A parent asks root (its chief) for task numbers, creates children in its own clan, and
passes pages to them; children report back by IPC, and everyone reports (one fact line,
microkernel.user.testing.report) what the test checks, under names of its own: a
parent's output and its children's are read as one."""
import time

from hw.mmu import PageFault, translate
from microkernel.abi import (Fpage, GrantItem, IpcError, KernelError, MapItem, Msg,
                             ThreadId, irq_id)
from microkernel.user.testing import report, wait_until
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
    rt.receive(child)                           # the child wrote through the mapping
    report(parent_reads=rt.mem.read(0x100000, 10))
    rt.fpage_unmap(Fpage.page(0x100000), flush=False)            # remap read-only
    rt.call(child, Msg(words=(1,)))
    rt.fpage_unmap(Fpage.page(0x100000), flush=True)             # flush
    rt.call(child, Msg(words=(2,)))
    report(parent_keeps=pte_state(rt, 0x100000))
    rt.send(child, Msg(items=(GrantItem(Fpage.page(0x101000), 0x101000),)))
    report(parent_after_grant=pte_state(rt, 0x101000))
    rt.call(child, Msg(words=(3,)))


def child_map(rt, parent):
    parent = ThreadId(parent)
    m = rt.receive(parent, window=Fpage.of(0x200000, 1 << 21))
    report(child_fpage=m.fpage_received, child_reads=rt.mem.read(0x300000, 11))
    rt.mem.write(0x300000, b"from-child")
    rt.send(parent, Msg(words=(0,)))
    rt.receive(parent)
    report(after_remap=pte_state(rt, 0x300000))
    rt.reply_and_wait(parent, Msg())
    report(after_flush=pte_state(rt, 0x300000))
    m = rt.ipc(parent, Msg(), 0, 1, parent, window=Fpage.of(0x400000, 1 << 12))
    report(granted_fpage=m.fpage_received, granted_reads=rt.mem.read(0x400000, 7))
    rt.receive(parent)                           # the call that ends the test
    rt.send(parent, Msg())


# -- recursive flush through three spaces ----------------------------------------------

def parent_chain(rt):
    rt.mem.write(0x100000, b"chain")
    b = new_child(rt, "chain_b", rt.myself())
    c = new_child(rt, "chain_c", rt.myself())
    rt.send(b, Msg(words=(int(c) & 0xFFFFFFFF, int(c) >> 32),
                   items=(MapItem(Fpage.page(0x100000), 0),)))
    report(c_saw=rt.receive(c).strings[0])
    rt.fpage_unmap(Fpage.page(0x100000), flush=True)
    rt.send(c, Msg())
    report(c_after_flush=rt.receive(c).strings[0])
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
    report(my_task=me.task, my_nest=me.nest, chief=rt.chief(), child=child,
           child_task=child.task, child_version=child.version, child_chief=child.chief,
           child_nest=child.nest)
    report(nearest_child=rt.id_nearest(child), nearest_sigma0=rt.id_nearest(rt.sigma0))
    report(child_replied=rt.call(child, Msg(words=(7,))).words)
    notice = rt.wait(timeout=10)
    report(notice_word=notice.words[0], notice_task=notice.sender.task,
           notice_status=notice.words[1])
    try:
        rt.send(child, Msg(words=(1,)), timeout=0)
        report(stale_send="delivered")
    except IpcError as e:
        report(stale_send=e.code)
    again = rt.task_new(child.task, f"{HERE}:clan_child", rt.pager, args=[int(me)])
    report(again_task=again.task, again_version=again.version)
    rt.call(again, Msg(words=(8,)))
    rt.wait(timeout=10)
    try:
        rt.task_new(5, f"{HERE}:clan_child", rt.pager, args=[0])
        report(task_new_5="created")
    except KernelError as e:
        report(task_new_5=e.fault)


def clan_child(rt, parent):
    parent = ThreadId(parent)
    m = rt.receive(parent)
    rt.send(parent, Msg(words=(m.words[0] * 6,)))


def redirect_parent(rt, sibling):
    """A message from my child to my sibling leaves my clan: it comes to me."""
    sibling = int(sibling)
    child = new_child(rt, "redirect_child", rt.myself(), sibling)
    m = rt.wait(timeout=10)
    report(child=child, sender=m.sender, redirected=m.redirected, intended=m.intended,
           words=m.words)
    rt.wait(timeout=10)          # the child's exit notice


def redirect_child(rt, parent, sibling):
    rt.send(ThreadId(sibling), Msg(words=(99,)))


def idle(rt):
    report(idle=rt.myself())
    rt.receive(0)


def caller(rt, server):
    server = int(server)
    try:
        rt.call(ThreadId(server), Msg(words=(1,)))
        report(caller_got="reply")
    except IpcError as e:
        report(caller_got=e.code)


# -- sigma0 ----------------------------------------------------------------------------

def sparse_toucher(rt, regions):
    """Touch one page in each of `regions` 4 MiB regions (a page table each) until an
    access faults for good: how many it got, and the kernel's word for the stop."""
    from microkernel.user import MemoryFault
    got, why = 0, None
    for i in range(int(regions)):
        try:
            rt.mem.write(0x1000_0000 + (i << 22), b"x")
            got += 1
        except MemoryFault as e:
            why = str(e)
            break
    report(touched=got, stopped=why is not None)


def memory_block(rt, log2, secret=""):
    """A block of 2**log2 bytes from root (MEMORY): its physical address, whether all of
    it read zero, then (with a secret) the secret written over its first bytes."""
    base = 0x0800_0000
    phys = Root(rt).memory(int(log2), base)
    report(phys=phys)
    if phys is not None:
        data = rt.mem.read(base, 1 << int(log2))
        report(zero=not any(data))
        if secret:
            rt.mem.write(base, secret.encode())


def sigma0_once(rt, frame, hold="0"):
    frame = int(frame)
    got = grab_page(rt, frame, 0x700000)
    report(frame=got)
    if got:
        rt.mem.write(0x700000, b"mine")
        report(wrote=rt.mem.read(0x700000, 4))
    if hold == "1":
        rt.receive(0)


# -- interrupts and I/O ports ----------------------------------------------------------

def _second_attacher(rt, out):
    try:
        rt.receive(irq_id(0), timeout=0)
        out.append("received")
    except IpcError as e:
        out.append(e.code)


def pit_irq(rt, name, names_id):
    """Started by root as driver `name`: the V2 IRQ protocol and I/O fpages, end to end."""
    from drivers.driver import start
    try:
        rt.inb(0x43)
        report(before_grant="read")
    except KernelError as e:
        report(before_grant=e.fault)
    drv = start(rt, name, names_id)              # ports from root, IRQ attached
    drv.register(rt)
    report(ports=drv.ports, irq=drv.irq)
    out = []
    rt.lthread_ex_regs(1, _second_attacher, args=(out,))
    report(second_attacher=wait_until(lambda: out, 5, "the second attacher's answer"))
    divisor = 11932                                   # ~100 Hz: one trap for all three
    rt.port_batch(("outb", 0x43, 0x34), ("outb", 0x40, divisor & 0xFF),
                  ("outb", 0x40, divisor >> 8))
    t0 = time.monotonic()
    senders = [rt.receive(irq_id(0), timeout=2).sender for _ in range(10)]
    report(irq_senders=senders, irq_seconds=time.monotonic() - t0)
    try:                                              # checked whole before any runs:
        rt.port_batch(("outb", 0x43, 0x30), ("inb", 0x60))   # the PIT is not stopped
        report(batch="done")
    except KernelError as e:
        report(batch=e.fault, then_sender=rt.receive(irq_id(0), timeout=2).sender)
    rt.outb(0x43, 0x30)                               # mode 0, no count: stop
    try:
        rt.inb(0x60)
        report(port_0x60="read")
    except KernelError as e:
        report(port_0x60=e.fault)                     # the test waits for this fact
    rt.receive(0)                                     # stay until root stops us


# -- copy-on-write through the default pager -----------------------------------------

def cow_parent(rt):
    rt.mem.write(0x100000, b"original")
    child = new_child(rt, "cow_child", rt.myself())
    Service(rt, tid=rt.pager, iface=PAGER).call(PagerOp.COPY, int(child))
    report(parent_after_copy=pte_state(rt, 0x100000))
    rt.send(child, Msg())
    rt.receive(child)
    report(parent_still_reads=rt.mem.read(0x100000, 8))
    rt.mem.write(0x100000, b"parent!!")
    report(parent_after_write=pte_state(rt, 0x100000), parent_reads=rt.mem.read(0x100000, 8))
    rt.wait(timeout=10)


def cow_child(rt, parent):
    parent = ThreadId(parent)
    rt.receive(parent)
    report(child_reads=rt.mem.read(0x100000, 8), child_before_write=pte_state(rt, 0x100000))
    rt.mem.write(0x100000, b"child!!!")
    report(child_after_write=pte_state(rt, 0x100000),
           child_reads_back=rt.mem.read(0x100000, 8))
    rt.send(parent, Msg())


# -- an ended task's pages go back to the default pager -------------------------------

def page_writer(rt):
    rt.mem.write(0x100000, b"secret-page")
    report(wrote=rt.mem.read(0x100000, 11))


def page_reader(rt):
    report(reads=rt.mem.read(0x100000, 11))


# -- identity ----------------------------------------------------------------------------

def impostor(rt):
    """Try to be another thread: a HELLO with a wrong secret, a HELLO for a thread
    that is already attached, a message whose body names another sender, and a
    HELLO with a secret already spent (each HELLO's reply brings the next one)."""
    import zmq
    from microkernel.abi import ABI_VERSION, Fault, Op, decode_header, encode_header
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(rt.endpoint)

    def answer(header):
        """The fault the kernel refused `header` with ("accepted" if it did not)."""
        s.send(encode_header(header))
        reply = decode_header(s.recv())
        return Fault(reply[1]) if reply[0] == -1 else "accepted"
    report(wrong_secret=answer([Op.HELLO, ABI_VERSION, rt.task_no, 3, b"0" * 16]),
           other_task=answer([Op.HELLO, ABI_VERSION, 4, 0, rt._secret]),
           taken=answer([Op.HELLO, ABI_VERSION, rt.task_no, 0, rt._secret]),
           no_hello=answer([Op.IPC, int(rt.sigma0), [1], [], 0, 0, 0, 0, None, None]))
    with rt._hello:                     # attach lthread 5 as the runtime would, by hand
        spent = rt._secret
        s.send(encode_header([Op.HELLO, ABI_VERSION, rt.task_no, 5, spent]))
        reply = decode_header(s.recv())
        rt._secret = reply[2]["secret"]
    other = ctx.socket(zmq.DEALER)
    other.setsockopt(zmq.LINGER, 0)
    other.connect(rt.endpoint)
    other.send(encode_header([Op.HELLO, ABI_VERSION, rt.task_no, 6, spent]))
    reply = decode_header(other.recv())
    report(spent_secret=Fault(reply[1]) if reply[0] == -1 else "accepted",
           next_secret_new=rt._secret != spent)
    s.close()
    other.close()


def kernel_area(rt):
    """User space ends at 3 GiB: an access above is the task's MemoryFault, a fault
    report for it is refused, an fpage there cannot be built; the page below works."""
    from microkernel.abi import USER_TOP
    from microkernel.user.vmem import MemoryFault
    try:
        rt.mem.write(USER_TOP, b"x")
        report(write_above="written")
    except MemoryFault as e:
        report(write_above="MemoryFault", write_above_says_kernel_area="kernel area" in str(e))
    try:
        rt._page_fault(0xF0001000, True, False)
        report(fault_report_above="accepted")
    except KernelError as e:
        report(fault_report_above=e.fault)
    rt.mem.write(USER_TOP - 0x1000, b"top page")
    report(last_user_page=rt.mem.read(USER_TOP - 0x1000, 8))
    try:
        Fpage(0xF0001000, 12)
        report(fpage_above="built")
    except ValueError as e:
        report(fpage_above="ValueError", fpage_above_says_kernel_area="kernel area" in str(e))


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
            rt.send(parent, Msg(words=(os.getpid(), rt.myself().low, rt.myself().high)))
        finally:
            os._exit(0)
    m = rt.receive(child, timeout=10)
    report(child=child, pid=pid, sender=m.sender, its_pid=m.words[0],
           its_myself=m.words[2] << 32 | m.words[1])
    notice = rt.wait(timeout=10)
    report(notice_word=notice.words[0], notice_sender=notice.sender)
