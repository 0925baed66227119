"""microkernel.abi by properties: the wire codec, thread ids, fpages, timeouts, placement.

  * headers: decode(encode(h)) == h for any msgpack-able non-empty array, and any byte
    string either decodes to a non-empty list or raises CodecError (nothing else);
  * thread ids: the fields given to `ThreadId.make` are the fields read back, and a
    field out of range is a ValueError;
  * fpages: decode(encode(f)) == f for every valid memory and I/O fpage; a word that is
    not a valid fpage is a ValueError; whatever decodes is a fixed point;
  * timeouts: a timeout never comes back shorter than asked, and never longer than the
    V2 format forces (less than one unit of the exponent chosen, and since the smallest
    unit that fits is chosen, within 4/255 of the request once it is over 255 us);
  * place (V2 §4.3, reference/l4-v2-api.md): the piece that moves is inside both the
    send fpage and the window, naturally aligned, as large as the smaller of the two,
    contains the hot spot, and depends on snd_base only modulo the larger size.
"""
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from microkernel.abi import (INVALID, NIL, USER_TOP, CodecError, Fpage, ThreadId, decode_header,
                             encode_header, irq_id, place)
from microkernel.abi import timeouts as T
from microkernel.abi.codec import MAX_HEADER

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# -- the codec -----------------------------------------------------------------------------

_scalars = (st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1)
            | st.floats(allow_nan=False) | st.text(max_size=20) | st.binary(max_size=40))
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=8) | st.binary(max_size=8), inner, max_size=4),
    max_leaves=12)


@settings(SETTINGS, max_examples=150)
@given(st.lists(_values, min_size=1, max_size=10))
def test_header_round_trip(fields):
    assert decode_header(encode_header(fields)) == fields


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_list_or_codec_error(data):
    try:
        h = decode_header(data)
    except CodecError:
        return
    assert type(h) is list and h


@SETTINGS
@given(_scalars | st.dictionaries(st.text(max_size=8), _scalars, max_size=4) | st.just([]))
def test_non_array_or_empty_headers_are_refused(value):
    with pytest.raises(CodecError):
        decode_header(encode_header(value))


def test_header_size_limit():
    at_limit = encode_header([b"x" * (MAX_HEADER - 16)])
    assert len(at_limit) <= MAX_HEADER and decode_header(at_limit)
    with pytest.raises(CodecError):
        decode_header(encode_header([b"x" * MAX_HEADER]))
    with pytest.raises(CodecError):                  # nesting deeper than msgpack allows
        decode_header(b"\x91" * 5000 + b"\x01")


# -- thread ids ----------------------------------------------------------------------------

_fields = st.fixed_dictionaries({
    "task": st.integers(0, 2047), "lthread": st.integers(0, 127),
    "version": st.integers(0, (1 << 14) - 1), "site": st.integers(0, (1 << 17) - 1),
    "chief": st.integers(0, 2047), "nest": st.integers(0, 15)})


@SETTINGS
@given(_fields)
def test_thread_id_fields_round_trip(f):
    t = ThreadId.make(**f)
    assert 0 <= t < 1 << 64
    assert (t.task, t.lthread, t.version, t.site, t.chief, t.nest) == (
        f["task"], f["lthread"], f["version"], f["site"], f["chief"], f["nest"])
    assert ThreadId(int(t)) == t and t.low == t & 0xFFFFFFFF and t.high == t >> 32
    other = t.lthread_id((f["lthread"] + 1) % 128)
    assert other.same_task(t) and other.task_id() == t.task_id()
    assert other.lthread == (f["lthread"] + 1) % 128
    assert t.task_id().lthread == 0 and t.task_id().version == t.version


@SETTINGS
@given(_fields, st.sampled_from(["task", "lthread", "version", "site", "chief", "nest"]),
       st.sampled_from([-1, "over"]))
def test_thread_id_field_out_of_range_is_refused(f, field, how):
    limits = {"task": 2048, "lthread": 128, "version": 1 << 14, "site": 1 << 17,
              "chief": 2048, "nest": 16}
    f = dict(f, **{field: -1 if how == -1 else limits[field]})
    with pytest.raises(ValueError):
        ThreadId.make(**f)


def test_special_ids():
    assert NIL.is_nil and INVALID.is_invalid and int(INVALID) == (1 << 64) - 1
    for n in range(16):
        assert irq_id(n) == n + 1 and irq_id(n).is_irq
    for bad in (-1, 16):
        with pytest.raises(ValueError):
            irq_id(bad)


# -- fpages --------------------------------------------------------------------------------

@st.composite
def memory_fpages(draw, min_size=12, max_size=32):
    """Any memory fpage: the whole space, or one that starts in user space."""
    s = draw(st.integers(min_size, max_size))
    base = 0 if s == 32 else draw(st.integers(0, (USER_TOP - 1) >> s)) << s
    return Fpage(base, s, draw(st.booleans()))


@st.composite
def io_fpages(draw):
    s = draw(st.integers(0, 16))
    base = draw(st.integers(0, (1 << (16 - s)) - 1)) << s
    return Fpage.ports(base, s)


@SETTINGS
@given(memory_fpages() | io_fpages())
def test_fpage_round_trip(fp):
    word = fp.encode()
    assert 0 <= word < 1 << 32
    assert Fpage.decode(word) == fp
    assert fp.size == 1 << fp.log2size and fp.contains(fp.base) and not fp.contains(fp.end)


@SETTINGS
@given(st.integers(12, 30), st.integers(USER_TOP >> 12, (1 << 20) - 1), st.booleans())
def test_memory_fpage_in_the_kernel_area_is_refused(size, page, writable):
    """User space ends at USER_TOP (3 GiB, as on L4/x86): a memory fpage starting above
    is refused, built or decoded, so an I/O fpage's word (0xF..., size <= 16) has one
    meaning; once it decoded as either."""
    base = page << 12 & ~((1 << size) - 1)             # aligned: >= USER_TOP still
    with pytest.raises(ValueError, match="kernel area"):
        Fpage(base, size, writable)
    word = base | size << 2 | (2 if writable else 0)
    if base >> 28 == 0xF and size <= 16:                # the word is an I/O fpage's:
        try:                                            # ports, or refused as ports
            assert Fpage.decode(word).io
        except ValueError as e:
            assert "kernel area" not in str(e)
    else:
        with pytest.raises(ValueError, match="kernel area"):
            Fpage.decode(word)


@SETTINGS
@given(st.integers(0, (1 << 32) - 1))
def test_fpage_decode_is_valid_or_value_error(word):
    try:
        fp = Fpage.decode(word)
    except ValueError:
        return
    assert Fpage.decode(fp.encode()) == fp
    assert fp.base % fp.size == 0
    if fp.io:
        assert fp.end <= 0x10000
    else:
        assert 12 <= fp.log2size <= 32 and fp.end <= 1 << 32


@SETTINGS
@given(st.integers(0, 11), st.integers(0, 0xEFFFF), st.integers(0, 3))
def test_memory_fpage_below_a_page_is_refused(size, page, low):
    with pytest.raises(ValueError):
        Fpage.decode(page << 12 | size << 2 | low)


@SETTINGS
@given(st.integers(13, 31), st.integers(0, (1 << 20) - 1))
def test_misaligned_memory_fpage_is_refused(size, page):
    base = page << 12
    assume(base % (1 << size) and base < 0xF0000000)
    with pytest.raises(ValueError):
        Fpage.decode(base | size << 2)


@SETTINGS
@given(st.integers(33, 63), st.integers(0, 0xEFFFF))
def test_memory_fpage_over_4g_is_refused(size, page):
    with pytest.raises(ValueError):
        Fpage.decode(page << 12 | size << 2)


@SETTINGS
@given(st.integers(1, 16), st.integers(0, 0xFFFF))
def test_misaligned_io_fpage_is_refused(size, port):
    assume(port % (1 << size))
    with pytest.raises(ValueError):
        Fpage.decode(0xF0000000 | port << 12 | size << 2)


@pytest.mark.parametrize("word", [-1, 1 << 32, 1 << 64, 1.0, "0", None, [], b"\x00"])
def test_fpage_word_not_32_bit_is_refused(word):
    with pytest.raises(ValueError):
        Fpage.decode(word)


# -- timeouts ------------------------------------------------------------------------------

_seconds = (st.floats(0, (T._MAX_US - 1) / 1e6, allow_nan=False)
            | st.integers(0, 10 ** 6).map(lambda us: us / 1e6)
            | st.floats(0, 1e-3))


@SETTINGS
@given(_seconds)
def test_timeout_never_shorter_and_as_precise_as_v2_allows(seconds):
    m, e = T.encode_one(seconds)
    assert 0 <= m <= 255 and 1 <= e <= 15
    back = T.decode_one(m, e)
    assert back >= seconds * (1 - 1e-12)            # float noise below a picosecond
    x = seconds * 1e6
    us = max(1, math.ceil(x - x * 1e-12)) if seconds else 0
    got = m * 4 ** (15 - e)
    unit = 4 ** (15 - e)
    assert us <= got < us + unit
    if unit > 1 and us:                 # a smaller unit would have needed m > 255
        assert m > 255 // 4 and got - us < 4 * us / 255
    if seconds == 0:
        assert (m, e) == (0, 1) and back == 0.0             # a poll


@SETTINGS
@given(st.one_of(st.none(), _seconds), st.one_of(st.none(), _seconds))
def test_timeout_word_round_trip(snd, rcv):
    word = T.encode(snd, rcv)
    assert 0 <= word < 1 << 32
    d_snd, d_rcv, snd_pf, rcv_pf = T.decode(word)
    assert snd_pf is None and rcv_pf is None                # page-fault timeouts: never
    for asked, got in ((snd, d_snd), (rcv, d_rcv)):
        if asked is None:
            assert got is None
        else:
            assert got == T.decode_one(*T.encode_one(asked))
            assert got >= asked * (1 - 1e-12)               # never shorter (float noise aside)


@pytest.mark.parametrize("bad", [-1e-9, -1, T._MAX_US / 1e6 + 1, float("nan"),
                                 float("-inf")])
def test_timeout_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        T.encode_one(bad)


def test_longest_timeout_is_expressible():
    assert T.decode_one(*T.encode_one(T._MAX_US / 1e6)) == T._MAX_US / 1e6


def test_timeout_never():
    assert T.encode_one(None) == (0, 0) == T.encode_one(math.inf)
    assert T.decode_one(0, 0) is None and T.decode_one(200, 0) is None


@SETTINGS
@given(st.integers(0, (1 << 32) - 1))
def test_any_timeout_word_decodes(word):
    snd, rcv, snd_pf, rcv_pf = T.decode(word)
    for v in (snd, rcv, snd_pf, rcv_pf):
        assert v is None or 0 <= v <= T._MAX_US / 1e6


# -- placement (V2 §4.3) ---------------------------------------------------------------------

@SETTINGS
@given(memory_fpages(), memory_fpages(), st.integers(0, (1 << 32) - 1))
def test_place(send, window, hot):
    src, dst, log2 = place(send, hot, window)
    size = 1 << log2
    assert log2 == min(send.log2size, window.log2size)
    assert send.base <= src and src + size <= send.end         # inside the send fpage
    assert window.base <= dst and dst + size <= window.end     # inside the window
    assert src % size == 0 and dst % size == 0                 # naturally aligned
    big = max(send.log2size, window.log2size)
    if send.log2size < window.log2size:                        # hot spot in the window
        spot = window.base + hot % window.size
        assert dst <= spot < dst + size and src == send.base
    elif send.log2size > window.log2size:                      # hot spot in the send fpage
        spot = send.base + hot % send.size
        assert src <= spot < src + size and dst == window.base
    else:
        assert (src, dst) == (send.base, window.base)
    assert place(send, hot % (1 << big), window) == (src, dst, log2)   # only h mod 2^max
    assert place(send, hot + (1 << big), window) == (src, dst, log2)
