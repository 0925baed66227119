"""Task code for the UART and ATA driver tests: each function is a task's `main(rt,
*args)` (arguments arrive as strings) and prints what the test checks. Clients use the
protocols' stubs; only the hostile requests (malformed, unknown, with a map item) are
built by hand, since no stub would send them."""
import errno
import json
import time

from microkernel.abi import Fpage, IpcError, MapItem, Msg
from protocols import ServiceError
from protocols.block import SECTOR, BlockDevice, Op as Block
from protocols.char import CharDevice, Op as Char
from protocols.net import Op as Net


def pattern(lba: int) -> bytes:
    """The contents the tests write to sector `lba` (the host test computes it too)."""
    return (b"mk-sector-%08d|" % lba * 32)[:SECTOR]


def patterns(lba: int, count: int) -> bytes:
    return b"".join(pattern(lba + i) for i in range(count))


def block_roundtrip(rt, *cases):
    """Write each `lba:count` case, read it back, flush; print one line per case."""
    d = BlockDevice(rt, "ata0")
    sectors, size = d.info()
    print("info", sectors, size, flush=True)
    for case in cases:
        lba, count = (int(x) for x in case.split(":"))
        lba = lba if lba >= 0 else sectors + lba
        d.write(lba, patterns(lba, count))
        back = d.read(lba, count)
        print("rt", case, back == patterns(lba, count), flush=True)
    d.flush()
    print("flushed", flush=True)


def _status(rt, dest, words, strings=()):
    """The errno of a hand-built request (or the IPC error's name)."""
    try:
        return rt.call(dest, Msg(words=tuple(words), strings=tuple(strings)), timeout=10).words[:1]
    except IpcError as e:
        return e.code.name


def _refusals(rt, dest, einval, enosys) -> None:
    """Print how many of the malformed requests got EINVAL, of the unknown ENOSYS."""
    for what, cases, code in (("invalid", einval, errno.EINVAL),
                              ("unknown", enosys, errno.ENOSYS)):
        results = [_status(rt, dest, w, s) for w, s in cases]
        print(what, sum(r == (code,) for r in results), "of", len(cases), results,
              flush=True)


def _map_item(rt, dest):
    """A map item to a driver (which gives no receive window) fails this IPC only."""
    rt.mem.write(0x100000, b"page")
    try:
        r = rt.call(dest, Msg(words=(Block.INFO,), items=(MapItem(Fpage.page(0x100000), 0),)),
                    timeout=5)
        return f"answered {r.words[:1]}"
    except IpcError as e:
        return e.code.name


def block_errors(rt):
    """ERANGE past the end, EINVAL for malformed requests, ENOSYS for unknown ones; the
    driver still serves."""
    d = BlockDevice(rt, "ata0")
    ata, sectors = d.server(), d.info()[0]
    one = bytes(SECTOR)
    for name, words, strings in [
            ("read-straddle", (Block.READ, sectors - 1, 2), ()),
            ("read-end", (Block.READ, sectors, 1), ()),
            ("read-huge", (Block.READ, 0xFFFFFFFF, 256), ()),
            ("write-end", (Block.WRITE, sectors, 1), (one,)),
            ("write-straddle", (Block.WRITE, sectors - 2, 3), (one * 3,))]:
        print("range", name, _status(rt, ata, words, strings) == (errno.ERANGE,), flush=True)
    R, W = Block.READ, Block.WRITE
    _refusals(rt, ata, einval=[
        ((R,), ()), ((R, 0), ()), ((R, 0, 0), ()), ((R, 0, 257), ()), ((R, 0, 1, 9), ()),
        ((R, 0, 1), (b"x",)), ((W, 0, 1), ()), ((W, 0, 2), (one,)), ((W, 0, 1), (one[:-1],)),
        ((W, 0, 1), (one, one)), ((Block.FLUSH, 1), ()), ((Block.INFO, 7), ())],
        enosys=[((), ()), ((Net.SEND,), ()), ((0x1234,), ()), ((0xFFFFFFFF, 1, 2, 3), ())])
    print("map-item", _map_item(rt, ata), flush=True)
    try:
        d.read(sectors - 1, 2)
    except ServiceError as e:
        print("client-range", e.errno == errno.ERANGE, flush=True)
    print("still-serving", d.read(0, 1) is not None and d.info()[0] == sectors, flush=True)


def block_through_restart(rt, seconds="40"):
    """Read in a loop while the test kills the driver; the client stub retries."""
    d = BlockDevice(rt, "ata0")
    d.write(77, patterns(77, 4))
    print("looping", flush=True)
    deadline, n, bad = time.monotonic() + float(seconds), 0, 0
    while time.monotonic() < deadline:
        bad += d.read(77, 4) != patterns(77, 4)
        n += 1
        if d.retries and n > 20:
            break
    print("reads", n, "bad", bad, "retries", d.retries, flush=True)


def char_write(rt, text):
    n = CharDevice(rt, "com1").write(text.encode())
    print("wrote", n, flush=True)


def char_info(rt, name="com1"):
    print("info", json.dumps(CharDevice(rt, name).info()), flush=True)


def char_reader(rt, marker, seconds="30"):
    """Drain what is buffered, then block in READ until `marker` has come."""
    c = CharDevice(rt, "com1")
    c.read_nb(65536)
    print("reading", flush=True)
    got, deadline = b"", time.monotonic() + float(seconds)
    while marker.encode() not in got and time.monotonic() < deadline:
        try:
            got += c.read(4096, timeout=max(0.1, deadline - time.monotonic()))
        except ServiceError as e:
            if e.errno != errno.ETIMEDOUT:
                raise
    print("got", marker.encode() in got, flush=True)


def char_drain(rt, name, n):
    """Read `n` bytes from char device `name`; print the count and their sha256."""
    import hashlib
    c, got, deadline = CharDevice(rt, name), bytearray(), time.monotonic() + 120
    while len(got) < int(n) and time.monotonic() < deadline:
        got += c.read(65536, timeout=10)
    print("drained", len(got), hashlib.sha256(bytes(got)).hexdigest()[:16], flush=True)


def char_errors(rt):
    """Malformed char requests get EINVAL, unknown ones ENOSYS; then the driver still
    reads and writes (an empty WRITE too)."""
    c = CharDevice(rt, "com1")
    com = c.server()
    R, W = Char.READ, Char.WRITE
    _refusals(rt, com, einval=[
        ((R,), ()), ((R, 0), ()), ((R, 1, 2), ()), ((R, 1), (b"x",)), ((Char.READ_NB,), ()),
        ((W,), ()), ((W,), (b"a", b"b")), ((W, 5), (b"a",)), ((W,), (bytes(64 * 1024 + 1),)),
        ((Char.INFO, 1), ())],
        enosys=[((), ()), ((Net.SEND,), ()), ((0xFFFFFFFF,), ())])
    print("map-item", _map_item(rt, com), flush=True)
    print("still-serving", c.call(Char.WRITE, b"").written == 0,
          isinstance(c.read_nb(10), bytes), flush=True)
