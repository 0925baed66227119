"""Task code for the comm server's tests (tests/integration/test_comm.py): a counter
server on one node, clients on another that reach it by remote IPC. Arguments arrive as
strings; each task reports facts (microkernel.user.testing.report), ids as raw ints.

The counter's requests, word 0:
    INC      count += 1; reply (count,)
    GET      reply (count,)
    ECHO     reply the words after it and every string
    HOLD     no reply at all
"""
import time

from microkernel.abi import (Fpage, IpcError, KernelError, MapItem, Msg, StringLimits,
                             ThreadId)
from microkernel.user.testing import report
from protocols.client import Service
from protocols.comm import CommClient
from protocols.names import NAMES, Names
from protocols.wellknown import names_id

INC, GET, ECHO, HOLD = 1, 2, 3, 4
NAME = "counter"


def counter(rt):
    """Register as "counter" and serve forever."""
    Names(rt).register(NAME)
    report(counter=int(rt.myself()))
    count, msg = 0, rt.wait()
    while True:
        op = msg.words[0] if msg.words else 0
        if op == INC:
            count += 1
            out = Msg(words=(count,))
        elif op in (GET, ECHO):
            out = Msg(words=(count,) if op == GET else msg.words[1:], strings=msg.strings)
        else:
            msg = rt.wait()
            continue
        try:
            msg = rt.reply_and_wait(msg.sender, out)
        except IpcError:
            msg = rt.wait()


def outcome(request, *args, **kw):
    """What a request came to: its value, an IPC error as [code, phase], or a fault."""
    try:
        return request(*args, **kw)
    except IpcError as e:
        return [e.code, e.phase]
    except KernelError as e:
        return e.fault


def find(rt, node: str) -> ThreadId:
    """The counter on `node`, through that node's name server (remote IPC)."""
    return Names(rt, tid=names_id(CommClient(rt).resolve(node))).lookup(NAME)


def call(rt, node, n="1", timeout="5"):
    """n INC calls to node's counter: `ok` calls, `first` and `last` counts, replies'
    senders, and the seconds they took."""
    c = find(rt, node)
    t = time.monotonic()
    replies = [outcome(rt.call, c, Msg(words=(INC,)), timeout=float(timeout))
               for _ in range(int(n))]
    good = [r for r in replies if isinstance(r, Msg)]
    report(counter=int(c), ok=len(good), errors=[r for r in replies if not isinstance(r, Msg)],
           first=good[0].words[0] if good else None, last=good[-1].words[0] if good else None,
           senders=sorted({int(r.sender) for r in good}), seconds=time.monotonic() - t)


def errors(rt, node):
    """Each error a remote IPC can meet, as the caller sees it."""
    c = find(rt, node)
    gone = ThreadId.make(900, 0, 1, c.site, c.chief, c.nest)     # no such task there
    nowhere = ThreadId.make(c.task, 0, c.version, 99, c.chief, c.nest)
    t = time.monotonic()
    hold = outcome(rt.call, c, Msg(words=(HOLD,)), timeout=1.0)
    held = time.monotonic() - t
    rt.mem.write(0x1000_0000, b"page")                 # a page of mine to map
    item = MapItem(Fpage(0x1000_0000, 12), 0)
    report(no_thread=outcome(rt.call, gone, Msg(words=(INC,)), timeout=5),
           no_node=outcome(rt.call, nowhere, Msg(words=(INC,)), timeout=5),
           hold=hold, held=held,
           map_item=outcome(rt.call, c, Msg(words=(ECHO,), items=(item,)), timeout=5),
           still=outcome(rt.call, c, Msg(words=(GET,)), timeout=5).words[0])


def echo(rt, node, size):
    """A string of `size` bytes to node's counter and back: intact, and how long."""
    c = find(rt, node)
    data = bytes(range(256)) * (int(size) // 256)
    t = time.monotonic()
    r = rt.call(c, Msg(words=(ECHO, 7), strings=(data, b"x")), timeout=60,
                limits=StringLimits())
    report(intact=r.strings == (data, b"x") and r.words == (7,),
           seconds=time.monotonic() - t)


def hold(rt, node):
    """A call with timeout NEVER that the counter never answers: how it ends."""
    c = find(rt, node)
    report(holding=int(c))
    t = time.monotonic()
    report(ended=outcome(rt.call, c, Msg(words=(HOLD,))), after=time.monotonic() - t)


def by_name(rt, node):
    """The counter found as "counter@NODE" by the one client (protocols.client), and an
    unknown node's error."""
    svc = Service(rt, f"{NAME}@{node}", iface=NAMES)
    try:
        Service(rt, f"{NAME}@nowhere", iface=NAMES).server()
        unknown = None
    except OSError as e:
        unknown = e.errno
    report(found=int(svc.server()), unknown=unknown)


def nodes(rt):
    """The cluster as this node's comm server sees it."""
    report(**CommClient(rt).nodes())


def listen(rt):
    """Report my id; an open wait, then a closed receive from whoever came first: what
    each received (sender, words)."""
    report(listener=int(rt.myself()))
    first = rt.wait(timeout=60)
    report(open={"sender": int(first.sender), "words": list(first.words)})
    then = rt.receive(first.sender, timeout=60)
    report(closed={"sender": int(then.sender), "words": list(then.words)})


def push(rt, dest, *words):
    """Send each word to thread `dest` (a raw id), one message each."""
    report(me=int(rt.myself()),
           sent=[outcome(rt.send, int(dest), Msg(words=(int(w),)), timeout=10) is None
                 for w in words])


def _ids(*tids) -> bytes:
    return b"".join(int(t).to_bytes(8, "little") for t in tids)


def stranger(rt):
    """The comm server's operations as a stranger calls them: LEAVE (root's only), a
    huge name, a malformed request, an unknown operation, datagrams to this node, to
    no node, of more than a frame, with words not u32s; each reply's errno; then
    whether the cluster still looks the same."""
    from protocols.comm import Op
    comm = CommClient(rt).server()
    before = [(p["name"], p["alive"]) for p in CommClient(rt).nodes()["peers"]]
    asks = {"leave": Msg(words=(Op.LEAVE,)), "huge": Msg(words=(Op.RESOLVE,),
                                                         strings=(b"n" * (1 << 20),)),
            "malformed": Msg(words=(Op.RESOLVE, 1, 2, 3)), "unknown": Msg(words=(0xC0FF,)),
            "dgram_here": Msg(words=(Op.DATAGRAM,), strings=(_ids(rt.myself()), b"")),
            "dgram_none": Msg(words=(Op.DATAGRAM,), strings=(b"", b"")),
            "dgram_huge": Msg(words=(Op.DATAGRAM,), strings=(_ids(2 << 32 | 64 << 17 | 1),
                                                              b"", b"x" * 4096)),
            "dgram_words": Msg(words=(Op.DATAGRAM,), strings=(_ids(2 << 32 | 64 << 17 | 1),
                                                               b"abc"))}
    nowhere = CommClient(rt).datagram([99 << 32 | 64 << 17 | 1])     # no node 99: not sent
    report(**{k: rt.call(comm, m, timeout=5).words[0] for k, m in asks.items()},
           dgram_nowhere=nowhere,
           same=[(p["name"], p["alive"]) for p in CommClient(rt).nodes()["peers"]] == before)
