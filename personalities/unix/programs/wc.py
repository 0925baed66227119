#!mk
"""wc [-lwc] [FILE...]: count lines, words and bytes (of standard input without files).
Columns are as wide as the files' total size needs (7 when one is no regular file), a
single count of a single input bare, as GNU's wc prints them."""
import stat

from personalities.unix import libc
from personalities.unix.progargs import Inputs, options, out

__all__ = ["main"]

_KINDS = bytes(0x20 if bytes([b]).isspace() else 0x61 for b in range(256))   # space or "a"


def main(argv, envp):
    opts, paths = options("wc", argv[1:], "lwc", "wc [-lwc] [FILE...]")
    flags = "".join(opts) or "lwc"
    inputs = Inputs("wc", paths)
    rows, totals = [], [0, 0, 0]
    for path, data in inputs:
        counts = [data.count(b"\n") if "l" in flags else 0,
                  _words(data) if "w" in flags else 0, len(data)]
        totals = [a + b for a, b in zip(totals, counts)]
        rows.append((counts, "" if path == "-" and not paths else path))
    if len(rows) > 1:
        rows.append((totals, "total"))
    width = 1 if len(rows) == 1 and len(flags) == 1 else _width(inputs.paths)
    out("".join(" ".join([f"{c:{width}}" for c, k in zip(counts, "lwc") if k in flags] +
                         ([name] if name else [])) + "\n" for counts, name in rows))
    return inputs.status


def _words(data: bytes) -> int:
    """How many words (runs of non-space bytes): each is a space-to-letter turn once
    every byte is made one of the two (len(data.split()) without a list of words)."""
    kinds = data.translate(_KINDS)
    return kinds.count(b" a") + kinds.startswith(b"a")


def _width(paths) -> int:
    """Digits of the inputs' total size; 7 when one is no regular file."""
    total = 0
    for p in paths:
        try:
            st = libc.fstat(0) if p == "-" else libc.stat(p)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            return 7
        total += st.st_size
    return len(str(total))
