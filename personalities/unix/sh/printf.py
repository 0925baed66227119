"""printf FORMAT [ARG...] (XCU printf): the format is reused while arguments remain.

Conversions %s %b %c %d %i %o %u %x %X %e %E %f %F %g %G %%, with flags (- + space # 0),
width and precision (`*` takes them from the arguments); escapes \\\\ \\a \\b \\f \\n \\r
\\t \\v \\" \\NNN in the format, and in %b arguments also \\0NNN and \\c (stop). A
number argument may be 'c (the code of c); a bad one is an error (status 1) and 0.
"""
from __future__ import annotations

import re

__all__ = ["printf", "escapes"]

SPEC = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?([sbcdiouxXeEfFgG%])")
SIMPLE = {"\\": "\\", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
          "v": "\v", '"': '"', "'": "'", "e": "\x1b"}


def _byte(b: int) -> str:
    """Byte b as a character the shell writes back as that byte (surrogateescape)."""
    return chr(b) if b < 0x80 else chr(0xDC00 + b)


def escapes(text: str, b: bool = False) -> tuple[str, bool]:
    """(text with its backslash escapes done, whether a \\c stopped it)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        n = text[i + 1]
        if n in SIMPLE:
            out.append(SIMPLE[n])
            i += 2
        elif n == "c" and b:
            return "".join(out), True
        elif n in "01234567":
            start = i + 2 if (b and n == "0") else i + 1
            j = start
            while j < len(text) and j < start + 3 and text[j] in "01234567":
                j += 1
            out.append(_byte(int(text[start:j] or "0", 8) & 0xFF))
            i = j
        else:
            out.append("\\" + n)
            i += 2
    return "".join(out), False


class _Args:
    def __init__(self, args, errors):
        self.args, self.i, self.errors = list(args), 0, errors

    def next(self) -> str | None:
        if self.i < len(self.args):
            self.i += 1
            return self.args[self.i - 1]
        return None

    def number(self, kind: str = "i"):
        a = self.next()
        if a is None or a == "":
            return 0
        if a[0] in "'\"":
            return ord(a[1]) if len(a) > 1 else 0
        try:
            if kind == "f":
                return float(a)
            s = a.strip()
            neg = s.startswith("-")
            body = s.lstrip("+-")
            v = int(body, 16) if body[:2].lower() == "0x" else (
                int(body, 8) if len(body) > 1 and body[0] == "0" else int(body))
            return -v if neg else v
        except ValueError:
            self.errors.append(f"{a}: invalid number")
            return 0


def _one(m, args: _Args) -> tuple[str, bool]:
    flags, width, prec, conv = m.groups()
    if conv == "%":
        return "%", False
    if width == "*":
        width = str(args.number())
    if prec == "*":
        prec = str(args.number())
    spec = "%" + flags + (width or "") + ("." + prec if prec is not None else "")
    if conv in "sb":
        text = args.next() or ""
        stop = False
        if conv == "b":
            text, stop = escapes(text, b=True)
        return (spec + "s") % text, stop
    if conv == "c":
        text = args.next() or ""
        return (spec.split(".")[0] + "s") % text[:1], False
    if conv in "eEfFgG":
        return (spec + conv) % args.number("f"), False
    v = args.number()
    if conv == "u":
        v &= (1 << 64) - 1 if v < 0 else v
        conv = "d"
    elif conv in "oxX" and v < 0:
        v &= (1 << 64) - 1
    return (spec + {"i": "d"}.get(conv, conv)) % v, False


def printf(fmt: str, args) -> tuple[str, list]:
    """(the output, error messages) of printf FORMAT ARGS."""
    errors: list = []
    a = _Args(args, errors)
    out = []
    while True:
        pos, used = 0, a.i
        for m in SPEC.finditer(fmt):
            out.append(escapes(fmt[pos:m.start()])[0])
            text, stop = _one(m, a)
            out.append(text)
            if stop:
                return "".join(out), errors
            pos = m.end()
        out.append(escapes(fmt[pos:])[0])
        if a.i >= len(a.args) or a.i == used:
            return "".join(out), errors
