"""sigma0's protocol (V2 §8, with Fiasco's I/O extension): physical memory and I/O ports.

sigma0 (task 2, servers/sigma0.py) owns every free frame (identity-mapped) and every
port the kernel does not keep. It speaks V2's own protocol, which has no operation code:
the first word says what is wanted, and the answer is a map item (words: snd_base, the
fpage), or an empty message when sigma0 refuses.

    w0 = address (low 2 bits: fault flags)   the frame at that physical address, 1:1;
                                             a page fault of a task paged by sigma0 is
                                             exactly this request
    w0 = ANY, w1 = s                         any free, aligned 2**s bytes (s 12..22)
    w0 = an I/O fpage                        those ports

Each frame and each port goes to one task only (a task may ask again for what it has).
Root is sigma0's only client: every task root starts gets memory from root (MEMORY,
protocols/root.py), and root answers a clan's request to sigma0 with sigma0's "no".
"""
from __future__ import annotations

from microkernel.abi import Fpage, Msg

__all__ = ["ANY", "MIN_LOG2", "MAX_LOG2", "request_any", "grab",
           "grab_page", "grab_ports"]

ANY = 0xFFFF_FFFC
MIN_LOG2, MAX_LOG2 = 12, 22


def request_any(log2size: int) -> Msg:
    """The request for any free, aligned 2**log2size bytes."""
    return Msg(words=(ANY, log2size))


def grab(rt, log2size: int, base: int, timeout=None) -> int | None:
    """2**log2size bytes of physical memory mapped at `base` of my space (aligned to
    their size); their physical address, or None when sigma0 has no such block."""
    r = rt.call(rt.sigma0, request_any(log2size), window=Fpage(base, log2size),
                timeout=timeout)
    return r.words[0] if r.fpage_received and r.words else None


def grab_page(rt, addr: int, base: int, timeout=None) -> bool:
    """The frame at physical `addr`, mapped at page `base` of my space; False when
    sigma0 refuses (the frame is another task's, or no memory of its own)."""
    r = rt.call(rt.sigma0, Msg(words=(addr & ~0xFFF,)), window=Fpage(base, 12),
                timeout=timeout)
    return r.fpage_received


def grab_ports(rt, ports: Fpage, timeout=None) -> bool:
    """The I/O ports of the I/O fpage `ports`, now mine; False when sigma0 refuses."""
    r = rt.call(rt.sigma0, Msg(words=(ports.encode(),)), window=Fpage.whole(),
                timeout=timeout)
    return r.fpage_received
