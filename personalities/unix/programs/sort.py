#!mk
"""sort [-fnru] [-o FILE] [-t SEP] [-k N[,M][fnr]]... [FILE...]: the lines of the
files (or standard input), sorted by their bytes (as LC_ALL=C); -n: by the number
they start with; -r: reversed; -u: one of each run of equal keys; -f: case folded;
-k: by fields N to M (split by -t SEP, or by runs of blanks), several keys in turn,
each with its own f, n, r; lines equal by their keys are then ordered by their
bytes. -o: the output goes to FILE (written after all is read: it may be an input)."""
import functools
import os
import re

from personalities.unix import libc
from personalities.unix.progargs import Inputs, fail, options, usage_error

__all__ = ["main"]

USAGE = "sort [-fnru] [-o FILE] [-t SEP] [-k N[,M][fnr]]... [FILE...]"
NUMBER = re.compile(r"\s*(-?\d*(?:\.\d*)?)")
KEY = re.compile(r"(\d+)([fnr]*)(?:,(\d+)([fnr]*))?")


def main(argv, envp):
    opts, paths = options("sort", argv[1:], "fnruo:t:k:", USAGE, many="k")
    keys = [parse_key(k, opts) for k in opts["k"]] or [(0, None, set(opts) & set("fnr"))]
    sep = opts.get("t")
    inputs = Inputs("sort", paths)
    lines = list(inputs.lines())

    def compare(a, b):
        for key in keys:
            c = _cmp(value(a, key, sep), value(b, key, sep))
            if c:
                return -c if "r" in key[2] else c
        return 0

    def whole(a, b):
        c = compare(a, b)
        if c or "u" in opts:
            return c
        c = _cmp(a.encode(errors="surrogateescape"), b.encode(errors="surrogateescape"))
        return -c if "r" in opts else c
    lines.sort(key=functools.cmp_to_key(whole))
    if "u" in opts:
        lines = [ln for i, ln in enumerate(lines) if i == 0 or compare(lines[i - 1], ln)]
    data = "".join(ln + "\n" for ln in lines).encode(errors="surrogateescape")
    try:
        fd = libc.open(opts["o"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if "o" in opts else 1
        libc.write(fd, data)
    except OSError as e:
        fail("sort", opts.get("o", "write error"), e)
        return 2
    return 2 if inputs.status else 0


def parse_key(spec, opts):
    """(first field, last field or None, modifiers) of a -k spec (fields from 0)."""
    m = KEY.fullmatch(spec)
    if not m or int(m.group(1)) < 1:
        usage_error("sort", USAGE, f"invalid field specification '{spec}'")
    mods = set(m.group(2) + (m.group(4) or "")) or set(opts) & set("fnr")
    return int(m.group(1)) - 1, int(m.group(3)) if m.group(3) else None, mods


def value(line, key, sep):
    """What `line` sorts by under `key`."""
    first, last, mods = key
    if first or last is not None:
        parts = line.split(sep) if sep else re.findall(r"\s*\S+", line)
        line = (sep or "").join(parts[first:last])
    if "n" in mods:
        try:
            return float(NUMBER.match(line).group(1))
        except ValueError:
            return 0.0
    return (line.upper() if "f" in mods else line).encode(errors="surrogateescape")


def _cmp(a, b) -> int:
    return (a > b) - (a < b)
