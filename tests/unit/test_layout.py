"""The IPC request and delivery layouts (microkernel/abi/layout.py) and the hot paths
that build and take them apart by position: the runtime, `ipc.sys_ipc`, the fast path
and `Kernel.deliver` must agree with the one order the NamedTuples write down."""
import ast
import pathlib
import threading
import types

import zmq

from microkernel.abi import NEVER, Delivery, IpcRequest, Msg, Op, RcvMode, ThreadId
from microkernel.abi import timeouts
from microkernel.abi.codec import decode_header, encode_header
from microkernel.abi.layout import IPC_REQUEST_PREFIX
from microkernel.kernel.fastpath import fast_path
from microkernel.kernel.kernel import Kernel
from microkernel.kernel.task import Task
from microkernel.kernel.thread import ThreadState
from microkernel.user.runtime import Runtime, _Cpu

ROOT = pathlib.Path(__file__).resolve().parents[2]

# (file, function, layout): where a header is unpacked into locals by position
UNPACKED = [
    ("microkernel/user/runtime.py", "ipc", Delivery),
    ("microkernel/kernel/ipc.py", "sys_ipc", IpcRequest),
    ("microkernel/kernel/fastpath.py", "fast", IpcRequest),
]


def _unpackings(path: str, func: str, width: int) -> list[list[str]]:
    """The target names of every `a, b, ... = x` of `width` names inside `func`."""
    tree = ast.parse((ROOT / path).read_text())
    out = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.name == func:
            for node in ast.walk(fn):
                if (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Tuple)
                        and len(node.targets[0].elts) == width
                        and all(isinstance(e, ast.Name) for e in node.targets[0].elts)):
                    out.append([e.id for e in node.targets[0].elts])
    return out


def test_every_positional_unpacking_names_the_layouts_fields_in_order():
    for path, func, layout in UNPACKED:
        found = _unpackings(path, func, len(layout._fields))
        assert found, f"{path}:{func} no longer unpacks a {layout.__name__}"
        for names in found:
            assert [f if n == "_" else n for n, f in zip(names, layout._fields)] == \
                list(layout._fields), f"{path}:{func} unpacks {names}"


def test_the_fast_paths_prefix_is_how_every_request_begins():
    request = IpcRequest(Op.IPC, 5, [1], [], 0, RcvMode.OPEN, 0, 0, None, None)
    assert encode_header(list(request)).startswith(IPC_REQUEST_PREFIX)
    assert not encode_header(list(request)[:-1]).startswith(IPC_REQUEST_PREFIX)
    assert not encode_header([Op.ID_NEAREST] + list(request)[1:]).startswith(IPC_REQUEST_PREFIX)


def test_kernel_deliver_builds_a_delivery():
    sent = []
    k = types.SimpleNamespace(encode=encode_header,
                              send=lambda ident, header, frames: sent.append((header, frames)))
    Kernel.deliver(k, b"r", 0x02, 77, [1, 2], [[0x1000 | 12 << 2, 0, 0]], 99, [b"s", b"t"])
    header, frames = sent[0]
    d = Delivery(*decode_header(header))
    assert d == Delivery(0x02, 77, [1, 2], [[0x1000 | 12 << 2, 0, 0]], 99, 2)
    assert frames == [b"s", b"t"]


def _two_threads():
    """Task 10's lthread 0 (the sender, running) and task 11's (waiting openly)."""
    tasks = {no: Task(no, 1, None, 255, None, 1) for no in (10, 11)}
    t, r = tasks[10].thread(0), tasks[11].thread(0)
    t.state = ThreadState.RUNNING
    r.state, r.rcv_mode, r.ident = ThreadState.RECEIVING, int(RcvMode.OPEN), b"r"
    return tasks, t, r


def test_the_fast_path_takes_a_request_and_sends_a_delivery():
    tasks, t, r = _two_threads()
    sent = []
    k = types.SimpleNamespace(tasks=tasks, encode=encode_header,
                              _snd=lambda *a: sent.append(a),
                              vm=None, send=None, ok_header=b"")   # the fault paths' (unused)
    call = IpcRequest(Op.IPC, r.tid, [7, 8], [], timeouts.encode(NEVER, NEVER),
                      int(RcvMode.CLOSED), r.tid, 0, None, None)
    assert fast_path(k)(t, encode_header(list(call)), [])
    assert sent[0][0] == b"r"
    assert Delivery(*decode_header(sent[1][0])) == Delivery(0, t.tid, [7, 8], [], None, 0)
    assert (t.state, t.rcv_mode, t.rcv_from, t.partner) == \
        (ThreadState.RECEIVING, RcvMode.CLOSED, r.tid, r.tid)
    assert r.state is ThreadState.RUNNING


def test_the_runtime_sends_a_request_and_reads_a_delivery():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("inproc://layout")
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect("inproc://layout")
    rt = Runtime.__new__(Runtime)
    rt._cpu = _Cpu()
    out: list = []

    def client():
        rt._cpu.sock = dealer
        out.append(rt.call(ThreadId(1 << 17), Msg(words=(3, 4), strings=(b"hi",))))

    th = threading.Thread(target=client, daemon=True)
    th.start()
    try:
        assert router.poll(10_000), "no request came"
        ident, header, *strings = router.recv_multipart()
        req = IpcRequest(*decode_header(header))
        assert (req.op, req.dest, req.words, req.items) == (Op.IPC, 1 << 17, [3, 4], [])
        assert (req.rcv_mode, req.rcv_from, req.window, req.limits, req.deceit) == \
            (RcvMode.CLOSED, 1 << 17, 0, None, None)
        assert req.timeouts == timeouts.encode(NEVER, NEVER) and strings == [b"hi"]
        reply = Delivery(0x04, 1 << 17, [5], [], 2 << 17, 1)     # redirected, one string
        router.send_multipart([ident, encode_header(list(reply)), b"back"])
        th.join(10)
        assert not th.is_alive(), "the runtime did not take the delivery"
    finally:
        dealer.close(0)
        router.close(0)
        ctx.term()
    msg = out[0]
    assert (msg.words, msg.strings, msg.items) == ((5,), (b"back",), ())
    assert (msg.sender, msg.intended, msg.redirected) == (1 << 17, 2 << 17, True)
