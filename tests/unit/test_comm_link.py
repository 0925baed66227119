"""The comm server's frames, links and engine without a node (servers/comm): a frame
that is not exactly the layout is refused; a link delivers every message once, in
order, through loss, duplication and reordering; a given-up message is skipped; what a
stranger sends is counted and dropped, and memory stays bounded."""
import random

import msgpack
import pytest

from microkernel.abi import ThreadId
from servers.comm.engine import MSG, Comm
from servers.comm.link import AGE, MAX_AHEAD, Inbox, Outbox
from servers.comm.wire import (BROADCAST, FRAG, Flag, Header, Kind, Malformed, frame, fragments,
                               parse)

A, B = bytes.fromhex("525400000001"), bytes.fromhex("525400000002")


def test_a_frame_is_parsed_back():
    h = Header(Kind.DATA, 0, 1, 2, 11, 22, txn=5, floor=3, frag=1, nfrags=2, ack_txn=9,
               ack_frag=4)
    assert parse(frame(B, A, h, b"xyz")) == (A, h, b"xyz")


@pytest.mark.parametrize("raw, why", [
    (b"\x00" * 20, "short"),
    (frame(B, A, Header(Kind.ACK, 0, 1, 2, 1, 1))[:12] + b"\x08\x00" +
     frame(B, A, Header(Kind.ACK, 0, 1, 2, 1, 1))[14:], "EtherType"),
    (frame(B, A, Header(Kind.ACK, 0, 1, 2, 1, 1))[:14] + b"\x02" +
     frame(B, A, Header(Kind.ACK, 0, 1, 2, 1, 1))[15:], "version"),
    (frame(B, A, Header(9, 0, 1, 2, 1, 1)), "kind"),
    (frame(B, A, Header(Kind.DATA, 0, 1, 2, 1, 1, txn=1, nfrags=1)), "DATA"),
    (frame(B, A, Header(Kind.DATA, 0, 1, 2, 1, 1, txn=1, frag=2, nfrags=2), b"x"), "DATA"),
    (frame(B, A, Header(Kind.ACK, 0, 1, 2, 1, 1), b"x"), "ACK"),
    (frame(B, A, Header(Kind.DGRAM, 0, 1, 2, 1, 1)), "DGRAM"),
])
def test_a_frame_off_the_layout_is_refused(raw, why):
    with pytest.raises(Malformed, match=why):
        parse(raw)


def _pump(rng: random.Random, messages: list[bytes], loss=0.1, dup=0.05, swap=0.05):
    """Messages through an outbox and an inbox over a lossy, duplicating, reordering
    wire, with acknowledgements back over the same; what came out, and the outbox."""
    out, inn, got, now = Outbox(), Inbox(), [], 0.0
    for m in messages:
        out.add(m, ())
    while out.queue and now < 600:
        sends, failed = out.due(now)
        assert not failed
        wire = [(m.txn, out.floor, i, len(m.frags), m.frags[i]) for m, i in sends
                if rng.random() >= loss]
        wire += [f for f in wire if rng.random() < dup]
        if len(wire) > 1 and rng.random() < swap:
            wire[0], wire[-1] = wire[-1], wire[0]
        for txn, floor, i, n, data in wire:
            done, _ = inn.take(txn, floor, i, n, data, now)
            got += done
        if rng.random() >= loss:
            out.ack(*inn.ack(), now)
        now += 0.06
    return got, out


def test_every_message_arrives_once_in_order_on_a_bad_wire():
    rng = random.Random(7)
    messages = [bytes([i % 251]) * rng.choice((10, FRAG, 3 * FRAG + 5)) for i in range(200)]
    got, out = _pump(rng, messages)
    assert got == messages
    assert out.retransmits > 0


def test_a_message_given_up_is_skipped_not_waited_for():
    inn = Inbox()
    assert inn.take(2, 1, 0, 1, b"two", 0.0) == ([], "new")          # held behind 1
    assert inn.take(3, 3, 0, 1, b"three", 0.0) == ([b"three"], "new")  # 1, 2 given up
    assert inn.ack() == (4, 0)


def test_duplicates_are_counted_and_acknowledged_again():
    inn = Inbox()
    assert inn.take(1, 1, 0, 1, b"a", 0.0) == ([b"a"], "new")
    assert inn.take(1, 1, 0, 1, b"a", 0.0) == ([], "dup")
    assert inn.duplicates == 1


def test_an_inbox_is_bounded_and_ages_what_never_completes():
    inn = Inbox()
    assert inn.take(MAX_AHEAD + 1, 1, 0, 2, b"x", 0.0)[1] == "drop"   # too far ahead
    for txn in range(1, 50):                                        # halves that never complete
        inn.take(txn, 1, 0, 2, b"x" * FRAG, 0.0)
    assert inn.bytes == 49 * FRAG
    assert inn.age(AGE + 1) == 49 and inn.bytes == 0 and not inn.partial


def _data(src_site: int, boot: int, dst_boot: int, body: bytes, txn=1) -> bytes:
    h = Header(Kind.DATA, 0, src_site, 1, boot, dst_boot, txn=txn, floor=1, nfrags=1)
    return frame(A, B, h, body)


def test_the_engine_counts_and_drops_what_a_stranger_sends():
    c = Comm("n1", 1, A, 1.0)
    assert c.received(b"garbage") == []
    me = ThreadId.make(64, 0, 1, 1)
    body = msgpack.packb([MSG, int(ThreadId.make(64, 0, 1, 2)), int(me), [1], [], False])
    assert c.received(_data(2, 5, c.boot, body)) == []                # never announced
    announce = frame(BROADCAST, B, Header(Kind.ANNOUNCE, 0, 2, 0, 5, 0), msgpack.packb("n2"))
    c.received(announce)
    assert c.received(_data(2, 5, c.boot + 1, body)) == []            # for another incarnation
    forged = msgpack.packb([MSG, int(ThreadId.make(64, 0, 1, 3)), int(me), [1], [], False])
    assert c.received(_data(2, 5, c.boot, forged)) == []              # a sender not of n2
    huge = msgpack.packb([MSG, int(ThreadId.make(64, 0, 1, 2)), int(me), [1 << 40], [], False])
    assert c.received(_data(2, 5, c.boot, huge, txn=2)) == []         # a word past 32 bits
    assert c.counts == {"malformed": 1, "stale": 2, "forged": 2}
    item = c.received(_data(2, 5, c.boot, body, txn=3))
    assert item == [("msg", int(ThreadId.make(64, 0, 1, 2)), int(me), (1,), [], False)]


def _pair() -> tuple[Comm, Comm]:
    """Two engines, n1 and n2, that have heard each other's announcement."""
    a, b = Comm("n1", 1, A, 1.0), Comm("n2", 2, B, 1.0)
    b.received(frame(BROADCAST, A, Header(Kind.ANNOUNCE, 0, 1, 0, a.boot, 0),
                     msgpack.packb("n1")))
    a.received(frame(BROADCAST, B, Header(Kind.ANNOUNCE, 0, 2, 0, b.boot, 0),
                     msgpack.packb("n2")))
    return a, b


def test_a_datagram_is_one_frame_delivered_without_an_acknowledgement():
    a, b = _pair()
    src, dst = int(ThreadId.make(64, 3, 1, 1)), int(ThreadId.make(9, 3, 1, 2))
    frames, sent = a.datagram(src, [dst, int(ThreadId.make(9, 3, 1, 7))], [7, 8], [b"page"])
    assert sent == 0b01                                       # n7 is no node: not sent
    assert len(frames) == 1 and parse(frames[0])[1].kind == Kind.DGRAM
    assert b.received(frames[0]) == [("dgram", src, dst, (7, 8), [b"page"], False)]
    assert b.peers.by_site[1].ack_due is None                 # nothing owed back
    assert not a.peers.by_site[2].out.pending()               # nothing kept to resend
    assert b.received(frames[0]) == [("dgram", src, dst, (7, 8), [b"page"], False)]
    assert b.counts["datagrams_in"] == 2                      # at most once is the sender's
    with pytest.raises(OSError, match="one frame"):
        a.datagram(src, [dst], [], [bytes(FRAG)])
    forged = frame(A, B, Header(Kind.DGRAM, 0, 2, 1, b.boot, a.boot), msgpack.packb(
        [MSG, int(ThreadId.make(64, 3, 1, 5)), src, [1], [], False]))
    assert a.received(forged) == [] and a.counts["forged"] == 1   # a sender not of n2


def test_fragments_cover_the_message():
    m = bytes(range(256)) * 20
    assert b"".join(fragments(m)) == m and all(len(f) <= FRAG for f in fragments(m))


def test_a_call_made_again_while_the_reply_is_delivered_stays_booked():
    """The caller may call its partner again as soon as the reply reaches it, before
    the deliverer reports the delivery: that second call still learns of the
    partner's node going (a stale reply's bookkeeping must not drop it)."""
    a, b = _pair()
    caller, partner = int(ThreadId.make(18, 2, 1, 1)), int(ThreadId.make(18, 0, 1, 2))
    assert a.send(caller, partner, [1], [])[0] is None           # SPAWN
    a.delivering(partner, caller, True)                           # its reply, handed over
    assert a.send(caller, partner, [2], [])[0] is None           # SPAWN_WAIT, at once
    a.delivered(partner, caller, True, None)                      # the deliverer reports
    assert (caller, partner) in a.calls
    a.received(frame(BROADCAST, B, Header(Kind.ANNOUNCE, Flag.LEAVING, 2, 0, b.boot, 0),
                     msgpack.packb("n2")))                        # n2 goes down
    _, item = a.deliveries.take()
    assert item[:3] == ("notice", caller, partner)
