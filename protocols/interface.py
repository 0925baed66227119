"""How a service interface is declared: operations, their layouts, who may call them.

This is mk's interface definition language (in the spirit of IDL4 and Genode's RPC
declarations), written as plain Python so that an IDE and a linter see every name. A
service module declares its operation codes as an `IntEnum` and, for each code, an
`Operation`: the request layout, the reply layout, who may invoke it, and whether a
client may send it again to a server that was restarted. The client stubs
(protocols/client.py) and the server's dispatch (protocols/server.py) are derived from
that one declaration.

On the wire every request is `words[0] = operation code`, then the layout's words, and
the layout's strings; every reply is `words[0] = errno` (0: success), then, on success,
the reply layout's words and strings. An error reply may carry more words (a detail, e.g.
the signal of an EINTR). A layout is written as a short string:

    "ino off:64 count | data"   words ino, off (two words: low, high), count; one string
    "pid:i sig"                 pid is signed (32-bit two's complement on the wire)
    "line | data?"              an optional string (absent: b"")
    "nargv nenv | entry *rest"  *rest takes every remaining string (a tuple)

Decoding is strict: a request whose word or string count differs from its layout is
malformed (EINVAL), so no handler ever sees a short message.
"""
from __future__ import annotations

import enum
import errno
from dataclasses import dataclass
from typing import NamedTuple

from microkernel.abi import ROOT_TASK, Msg, ThreadId

__all__ = ["Who", "Layout", "Operation", "Interface", "call", "error", "MalformedError"]

_MASK = 0xFFFFFFFF
_tuple_new = tuple.__new__           # a NamedTuple from words already counted


class MalformedError(ValueError):
    """A message that does not fit its layout."""


class Who(enum.Flag):
    """Who may invoke an operation. The sender id is the kernel's (unforgeable), so each
    test is a comparison of its fields with the server's own id."""
    ANY = enum.auto()        # any thread
    SELF = enum.auto()       # a thread of the server's own task (its helper lthreads)
    CHIEF = enum.auto()      # the server's chief (V2 clans & chiefs: root, for a server it started)
    CLAN = enum.auto()       # a task of the server's clan (the server is its chief)
    ROOT = enum.auto()       # the root task
    PEER = enum.auto()       # the same server on any node: its task number, root's clan

    def admits(self, sender: ThreadId, me: ThreadId, chief: int) -> bool:
        """Does this rule let `sender` call a server whose id is `me` and whose chief is
        task `chief`?"""
        return admitted(self.value, sender, me.task, me.site, chief)


# the rules as plain ints: enum.Flag's operators cost microseconds on every request
_ANY, _SELF, _CHIEF, _CLAN, _ROOT, _PEER = (w.value for w in Who)


def admitted(rule: int, sender: ThreadId, my_task: int, my_site: int, chief: int) -> bool:
    """`Who.admits` for a rule given as its int value (`Operation.rule`), a server of
    task `my_task` on site `my_site` whose chief is task `chief`."""
    if rule & _ANY:
        return True
    task = sender.task
    if rule & _PEER and task == my_task and sender.chief == chief:
        return True                      # kept servers have fixed numbers on every node
    if sender.site != my_site:           # another node's tasks are none of these here
        return False
    return bool((rule & _SELF and task == my_task)
                or (rule & _CHIEF and task == chief)
                or (rule & _CLAN and sender.chief == my_task and task != my_task)
                or (rule & _ROOT and task == ROOT_TASK))


_KINDS = {"": "word", "64": "wide", "i": "signed"}


class Layout:
    """Words and strings of one message, named. `decode` gives a NamedTuple whose
    fields are the layout's names, in order; `encode` takes the values in that order."""

    def __init__(self, spec: str, name: str = "Message"):
        words, _, strings = spec.partition("|")
        self.spec = spec.strip()
        self.words: list[tuple[str, str]] = []
        for w in words.split():
            field, _, kind = w.partition(":")
            if kind not in _KINDS:
                raise ValueError(f"layout {spec!r}: unknown word kind {kind!r}")
            self.words.append((field, _KINDS[kind]))
        self.strings = strings.split()
        self.optional = bool(self.strings) and self.strings[-1].endswith("?")
        self.rest = bool(self.strings) and self.strings[-1].startswith("*")
        fixed = self.strings[:-1] if self.optional or self.rest else self.strings
        if any(s.endswith("?") or s.startswith("*") for s in fixed):
            raise ValueError(f"layout {spec!r}: only the last string may be ? or *")
        self.fixed_strings = len(fixed)
        self.nwords = sum(2 if k == "wide" else 1 for _, k in self.words)
        names = [f for f, _ in self.words] + [s.strip("?*") for s in self.strings]
        self.type = NamedTuple(name, [(n, object) for n in names])
        self.simple = all(k == "word" for _, k in self.words)
        self.plain = self.simple and not self.strings      # words only: the fast path

    def __repr__(self) -> str:
        return f"Layout({self.spec!r})"

    def encode(self, values) -> tuple[tuple, tuple]:
        """(words, strings) for the values in layout order."""
        if self.plain and len(values) == self.nwords:
            for w in values:
                if not 0 <= w <= _MASK:
                    raise ValueError(f"{self.spec!r}: {w!r} is not a 32-bit word")
            return tuple(values), ()
        n = len(self.words)
        if self.rest:
            if len(values) < n + self.fixed_strings:
                raise TypeError(f"{self.spec!r} takes at least {n + self.fixed_strings} values")
        elif len(values) != n + len(self.strings) and not (
                self.optional and len(values) == n + self.fixed_strings):
            raise TypeError(f"{self.spec!r} takes {n + len(self.strings)} values, "
                            f"got {len(values)}")
        if self.simple:
            words = tuple(values[:n])
            for w in words:
                if not 0 <= w <= _MASK:
                    raise ValueError(f"{self.spec!r}: {w!r} is not a 32-bit word")
        else:
            words = []
            for (_, kind), v in zip(self.words, values):
                if kind == "wide":
                    words += (v & _MASK, (v >> 32) & _MASK)
                elif kind == "signed":
                    words.append(v & _MASK)
                else:
                    words.append(v)
            words = tuple(words)
        strings = values[n:]
        if self.rest:
            strings = (*strings[:-1], *strings[-1]) if len(strings) > self.fixed_strings \
                else tuple(strings)
        elif self.optional and len(strings) > self.fixed_strings and strings[-1] in (b"", None):
            strings = strings[:-1]
        return words, tuple(strings)

    def decode(self, words, strings):
        """The NamedTuple of a message's words (after the opcode or errno) and strings;
        MalformedError when the counts do not fit."""
        if self.plain and len(words) == self.nwords and not strings:
            return _tuple_new(self.type, words)
        if len(words) != self.nwords:
            raise MalformedError(f"{len(words)} words where {self.spec!r} has {self.nwords}")
        ns = len(strings)
        if ns != self.fixed_strings and not (
                (self.optional and ns == self.fixed_strings + 1)
                or (self.rest and ns >= self.fixed_strings)):
            raise MalformedError(f"{ns} strings where {self.spec!r} has {len(self.strings)}")
        if self.simple:
            values = list(words)
        else:
            values, i = [], 0
            for _, kind in self.words:
                w = words[i]
                if kind == "wide":
                    values.append(w | words[i + 1] << 32)
                    i += 2
                    continue
                values.append(w - (1 << 32) if kind == "signed" and w & 0x80000000 else w)
                i += 1
        fixed = [bytes(s) for s in strings[:self.fixed_strings]]
        if self.rest:
            fixed.append(tuple(bytes(s) for s in strings[self.fixed_strings:]))
        elif self.optional:
            fixed.append(bytes(strings[-1]) if ns > self.fixed_strings else b"")
        return self.type(*values, *fixed)


@dataclass(frozen=True)
class Operation:
    """One operation of an interface (see the module docstring)."""
    request: Layout
    reply: Layout
    who: Who = Who.ANY
    retry: bool = False          # a client may resend it after the server restarted
    doc: str = ""

    @property
    def rule(self) -> int:
        """`who` as the int `admitted` takes."""
        return self.who.value


def call(request: str = "", reply: str = "", who: Who = Who.ANY, retry: bool = False,
         doc: str = "") -> Operation:
    """Declare an operation: request and reply layouts, who may call, retry."""
    return Operation(Layout(request, "Request"), Layout(reply, "Reply"), who, retry, doc)


class Interface:
    """A service's operations, declared once. `ops` maps each member of the operation
    enum to its `Operation`; every member must be declared."""

    def __init__(self, name: str, codes: type[enum.IntEnum], ops: dict, pad_to: int = 0):
        missing = [c.name for c in codes if c not in ops]
        extra = [c for c in ops if not isinstance(c, codes)]
        if missing or extra:
            raise ValueError(f"{name}: undeclared {missing}, foreign {extra}")
        self.name = name
        self.codes = codes
        self.ops: dict[int, Operation] = {int(c): op for c, op in ops.items()}
        for c, op in ops.items():
            op.request.type.__name__ = f"{c.name.title()}Request"
            op.reply.type.__name__ = f"{c.name.title()}Reply"
        self.pad_to = pad_to     # requests shorter than this many words are padded

    def __repr__(self) -> str:
        return f"Interface({self.name!r}, {len(self.ops)} operations)"

    def request(self, code: int, *values) -> Msg:
        """The request message of operation `code` with `values` in layout order."""
        words, strings = self.ops[code].request.encode(values)
        if len(words) + 1 < self.pad_to:
            return Msg((int(code), *words, *(0,) * (self.pad_to - len(words) - 1)), strings)
        return Msg((int(code), *words), strings)

    def parse(self, msg: Msg):
        """(operation code, Operation, decoded request) of a request message; raises
        LookupError for an unknown code, MalformedError for a bad layout."""
        code = msg.words[0] if msg.words else None
        op = self.ops.get(code)
        if op is None:
            raise LookupError(f"{self.name}: no operation {code!r}")
        return code, op, op.request.decode(self.unpad(msg.words, op.request.nwords),
                                           msg.strings)

    def unpad(self, words: tuple, n: int) -> tuple:
        """The request words after the code, without the padding of a short request
        (it is zeros up to `pad_to` words; anything else is left for decode to refuse)."""
        rest = words[1:]
        if len(rest) > n and len(words) <= self.pad_to and not any(rest[n:]):
            return rest[:n]
        return rest

    def reply(self, code: int, values=(), items: tuple = ()) -> Msg:
        """The success reply of operation `code` (values in the reply layout's order)."""
        words, strings = self.ops[code].reply.encode(tuple(values))
        return Msg(words=(0, *words), strings=strings, items=items)

    def decode_reply(self, code: int, msg: Msg):
        """The reply NamedTuple of a success reply message."""
        return self.ops[code].reply.decode(msg.words[1:], msg.strings)


def error(code: int, *detail: int) -> Msg:
    """An error reply: errno `code`, then optional detail words."""
    return Msg(words=(code or errno.EIO, *detail))
