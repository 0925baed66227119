"""Task code for the UART and ATA driver tests: each function is a task's `main(rt,
*args)` (arguments arrive as strings) and reports (microkernel.user.testing.report) the
facts the test checks. Clients use the protocols' stubs; only the hostile requests
(malformed, unknown, with a map item) are built by hand, since no stub would send them."""
import errno

from microkernel.abi import Fpage, IpcError, MapItem, Msg
from microkernel.user.testing import report, wait_until
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
    """Write each `lba:count` case (a negative lba counts from the end), read it back,
    flush. Reports INFO's `sectors` and `sector_size`, `read_back`: per case whether
    what was read is what was written, and `flushed`."""
    d = BlockDevice(rt, "ata0")
    sectors, size = d.info()
    report(sectors=sectors, sector_size=size)
    read_back = {}
    for case in cases:
        lba, count = (int(x) for x in case.split(":"))
        lba = lba if lba >= 0 else sectors + lba
        d.write(lba, patterns(lba, count))
        read_back[case] = d.read(lba, count) == patterns(lba, count)
    report(read_back=read_back)
    d.flush()
    report(flushed=True)


def _status(rt, dest, words, strings=(), items=()):
    """The first reply word of a hand-built request, as a list ([errno] for an error
    reply), or the name of the IPC error."""
    try:
        return rt.call(dest, Msg(words=tuple(words), strings=tuple(strings), items=items),
                       timeout=10).words[:1]
    except IpcError as e:
        return e.code.name


def _refusals(rt, dest, einval, enosys) -> None:
    """Report `invalid` and `unknown`: the _status of each malformed request (meant to
    get EINVAL) and of each unknown one (ENOSYS)."""
    report(invalid=[_status(rt, dest, w, s) for w, s in einval],
           unknown=[_status(rt, dest, w, s) for w, s in enosys])


def _map_item(rt, dest):
    """A map item to a driver (which gives no receive window) fails this IPC only:
    the IPC error's name (or the reply's first word, as a list, if it was answered)."""
    rt.mem.write(0x100000, b"page")
    return _status(rt, dest, (Block.INFO,), items=(MapItem(Fpage.page(0x100000), 0),))


def block_errors(rt):
    """ERANGE past the end (`range`: each request's _status; `client_range`: the
    stub's errno), EINVAL for malformed requests, ENOSYS for unknown ones (_refusals),
    a map item's IPC error (`map_item`); then the driver still serves (`still_serving`)."""
    d = BlockDevice(rt, "ata0")
    ata, sectors = d.server(), d.info()[0]
    one = bytes(SECTOR)
    report(range={name: _status(rt, ata, words, strings) for name, words, strings in [
        ("read-straddle", (Block.READ, sectors - 1, 2), ()),
        ("read-end", (Block.READ, sectors, 1), ()),
        ("read-huge", (Block.READ, 0xFFFFFFFF, 256), ()),
        ("write-end", (Block.WRITE, sectors, 1), (one,)),
        ("write-straddle", (Block.WRITE, sectors - 2, 3), (one * 3,))]})
    R, W = Block.READ, Block.WRITE
    _refusals(rt, ata, einval=[
        ((R,), ()), ((R, 0), ()), ((R, 0, 0), ()), ((R, 0, 257), ()), ((R, 0, 1, 9), ()),
        ((R, 0, 1), (b"x",)), ((W, 0, 1), ()), ((W, 0, 2), (one,)), ((W, 0, 1), (one[:-1],)),
        ((W, 0, 1), (one, one)), ((Block.FLUSH, 1), ()), ((Block.INFO, 7), ())],
        enosys=[((), ()), ((Net.SEND,), ()), ((0x1234,), ()), ((0xFFFFFFFF, 1, 2, 3), ())])
    report(map_item=_map_item(rt, ata))
    try:
        d.read(sectors - 1, 2)
        report(client_range=None)
    except ServiceError as e:
        report(client_range=errno.errorcode[e.errno])
    report(still_serving=len(d.read(0, 1)) == SECTOR and d.info()[0] == sectors)


def block_through_restart(rt, seconds="40"):
    """Read in a loop while the test kills the driver (`looping` says it may); the
    client stub retries. Reports `reads`, `bad` (reads that were not what was
    written) and the stub's `retries`."""
    d = BlockDevice(rt, "ata0")
    d.write(77, patterns(77, 4))
    report(looping=True)
    done = {"reads": 0, "bad": 0}

    def retried() -> bool:
        done["bad"] += d.read(77, 4) != patterns(77, 4)
        done["reads"] += 1
        return d.retries > 0 and done["reads"] > 20
    try:
        wait_until(retried, float(seconds), "a read retried through a restart", pause=0)
    finally:
        report(retries=d.retries, **done)


def char_write(rt, text):
    report(wrote=CharDevice(rt, "com1").write(text.encode()))


def char_info(rt, name="com1"):
    report(info=CharDevice(rt, name).info())


def char_reader(rt, name, marker, seconds="30"):
    """Drain what char device `name` has buffered, then block in READ until `marker`
    has come (`reading` says it is about to); `read`: what it read."""
    c = CharDevice(rt, name)
    c.read_nb(65536)
    report(reading=True)
    got = bytearray()

    def arrived() -> bool:
        try:
            got.extend(c.read(4096, timeout=float(seconds)))
        except ServiceError as e:
            if e.errno != errno.ETIMEDOUT:
                raise
        return marker.encode() in got
    try:
        wait_until(arrived, float(seconds), "the marker", pause=0)
    finally:
        report(read=bytes(got))


def char_drain(rt, name, n):
    """Read `n` bytes from char device `name`; reports how many came (`drained`) and
    the first 16 hex digits of their sha256."""
    import hashlib
    c, got = CharDevice(rt, name), bytearray()

    def all_read() -> bool:
        got.extend(c.read(65536, timeout=10))
        return len(got) >= int(n)
    wait_until(all_read, 120, f"{n} bytes from {name}", pause=0)
    report(drained=len(got), sha256=hashlib.sha256(bytes(got)).hexdigest()[:16])


def char_errors(rt):
    """Malformed char requests get EINVAL, unknown ones ENOSYS (_refusals), a map item
    its IPC error (`map_item`); then the driver still writes (`empty_write`: what an
    empty WRITE says it wrote) and reads (`read_nb`: READ_NB gave bytes)."""
    c = CharDevice(rt, "com1")
    com = c.server()
    R, W = Char.READ, Char.WRITE
    _refusals(rt, com, einval=[
        ((R,), ()), ((R, 0), ()), ((R, 1, 2), ()), ((R, 1), (b"x",)), ((Char.READ_NB,), ()),
        ((W,), ()), ((W,), (b"a", b"b")), ((W, 5), (b"a",)), ((W,), (bytes(64 * 1024 + 1),)),
        ((Char.INFO, 1), ())],
        enosys=[((), ()), ((Net.SEND,), ()), ((0xFFFFFFFF,), ())])
    report(map_item=_map_item(rt, com), empty_write=c.call(Char.WRITE, b"").written,
           read_nb=isinstance(c.read_nb(10), bytes))
