"""Task code for the UART and ATA driver tests: each function is a task's `main(rt,
*args)` (arguments arrive as strings) and prints what the test checks."""
import json
import time

from drivers.client import BlockDevice, CharDevice, DeviceError, lookup, names_id
from drivers.protocol import (E_INVAL, E_RANGE, FLUSH, INFO, OK, READ, READ_NB, SECTOR,
                              SEND, WRITE)
from microkernel.abi import Fpage, IpcCode, IpcError, MapItem, Msg


def pattern(lba: int) -> bytes:
    """The contents the tests write to sector `lba` (the host test computes it too)."""
    return (b"mk-sector-%08d|" % lba * 32)[:SECTOR]


def patterns(lba: int, count: int) -> bytes:
    return b"".join(pattern(lba + i) for i in range(count))


def block_roundtrip(rt, *cases):
    """Write each `lba:count` case, read it back, flush; print one line per case."""
    d = BlockDevice(rt, None, "ata0")
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
    try:
        return rt.call(dest, Msg(words=tuple(words), strings=tuple(strings)), timeout=10).words[:1]
    except IpcError as e:
        return e.code.name


def _map_item(rt, dest):
    """A map item to a driver (which gives no receive window) fails this IPC only."""
    rt.mem.write(0x100000, b"page")
    try:
        r = rt.call(dest, Msg(words=(INFO,), items=(MapItem(Fpage.page(0x100000), 0),)),
                    timeout=5)
        return f"answered {r.words[:1]}"
    except IpcError as e:
        return e.code.name


def block_errors(rt):
    """E_RANGE past the end, E_INVAL for malformed requests; the driver still serves."""
    ata = lookup(rt, names_id(rt), "ata0")
    sectors = rt.call(ata, Msg(words=(INFO,)), timeout=10).words[1]
    one = bytes(SECTOR)
    for name, words, strings in [
            ("read-straddle", (READ, sectors - 1, 2), ()),
            ("read-end", (READ, sectors, 1), ()),
            ("read-huge", (READ, 0xFFFFFFFF, 256), ()),
            ("write-end", (WRITE, sectors, 1), (one,)),
            ("write-straddle", (WRITE, sectors - 2, 3), (one * 3,))]:
        print("range", name, _status(rt, ata, words, strings) == (E_RANGE,), flush=True)
    bad = [((), ()), ((READ,), ()), ((READ, 0), ()), ((READ, 0, 0), ()),
           ((READ, 0, 257), ()), ((READ, 0, 1, 9), ()), ((READ, 0, 1), (b"x",)),
           ((WRITE, 0, 1), ()), ((WRITE, 0, 2), (one,)), ((WRITE, 0, 1), (one[:-1],)),
           ((WRITE, 0, 1), (one, one)), ((FLUSH, 1), ()), ((INFO, 7), ()),
           ((SEND,), ()), ((0x1234,), ()), ((0xFFFFFFFF, 1, 2, 3), ())]
    results = [_status(rt, ata, w, s) for w, s in bad]
    print("invalid", sum(r == (E_INVAL,) for r in results), "of", len(bad), results,
          flush=True)
    print("map-item", _map_item(rt, ata), flush=True)
    d = BlockDevice(rt, None, "ata0")
    try:
        d.read(sectors - 1, 2)
    except DeviceError as e:
        print("client-range", e.code == E_RANGE, flush=True)
    print("still-serving", d.read(0, 1) is not None and d.info()[0] == sectors, flush=True)


def block_through_restart(rt, seconds="40"):
    """Read in a loop while the test kills the driver; the client library retries."""
    d = BlockDevice(rt, None, "ata0")
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
    n = CharDevice(rt, None, "com1").write(text.encode())
    print("wrote", n, flush=True)


def char_info(rt, name="com1"):
    print("info", json.dumps(CharDevice(rt, None, name).info()), flush=True)


def char_reader(rt, marker, seconds="30"):
    """Drain what is buffered, then block in READ until `marker` has come."""
    c = CharDevice(rt, None, "com1")
    c.read_nb(65536)
    print("reading", flush=True)
    got, deadline = b"", time.monotonic() + float(seconds)
    while marker.encode() not in got and time.monotonic() < deadline:
        try:
            got += c.read(4096, timeout=max(0.1, deadline - time.monotonic()))
        except IpcError as e:
            if e.code != IpcCode.TIMEOUT:
                raise
    print("got", marker.encode() in got, flush=True)


def char_drain(rt, name, n):
    """Read `n` bytes from char device `name`; print the count and their sha256."""
    import hashlib
    c, got, deadline = CharDevice(rt, None, name), bytearray(), time.monotonic() + 120
    while len(got) < int(n) and time.monotonic() < deadline:
        got += c.read(65536, timeout=10)
    print("drained", len(got), hashlib.sha256(bytes(got)).hexdigest()[:16], flush=True)


def char_errors(rt):
    """Malformed char requests get E_INVAL; then the driver still reads and writes."""
    com = lookup(rt, names_id(rt), "com1")
    bad = [((), ()), ((READ,), ()), ((READ, 0), ()), ((READ, 1, 2), ()),
           ((READ, 1), (b"x",)), ((READ_NB,), ()), ((WRITE,), ()), ((WRITE,), (b"a", b"b")),
           ((WRITE, 5), (b"a",)), ((WRITE,), (bytes(64 * 1024 + 1),)), ((INFO, 1), ()),
           ((SEND,), ()), ((0xFFFFFFFF,), ())]
    results = [_status(rt, com, w, s) for w, s in bad]
    print("invalid", sum(r == (E_INVAL,) for r in results), "of", len(bad), results,
          flush=True)
    print("map-item", _map_item(rt, com), flush=True)
    w = rt.call(com, Msg(words=(WRITE,), strings=(b"",)), timeout=10).words
    r = rt.call(com, Msg(words=(READ_NB, 10)), timeout=10)
    print("still-serving", w == (OK, 0), r.words == (OK,) and len(r.strings) == 1, flush=True)
