#!mk
"""od [-bcdox] [-A d|o|x|n] [FILE...]: dump bytes, 16 a line after the offset
(octal; -A: its radix, n none): -o octal 2-byte words (the default), -x hex words,
-d unsigned decimal words, -b octal bytes, -c characters. A line equal to the one
before is shown once, then `*`."""
from personalities.unix.progargs import Inputs, options, out, usage_error

__all__ = ["main"]

USAGE = "od [-bcdox] [-A d|o|x|n] [FILE...]"
NAMED = {0: "\\0", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
OFFSET = {"o": "{:07o}", "d": "{:07d}", "x": "{:06x}", "n": ""}


def main(argv, envp):
    opts, paths = options("od", argv[1:], "bcdoxA:", USAGE)
    radix = opts.get("A", "o")
    if radix not in OFFSET:
        usage_error("od", USAGE, f"invalid output address radix '{radix}'")
    kinds = [k for k in "obcdx" if k in opts] or ["o"]
    inputs = Inputs("od", paths)
    data = b"".join(d for _, d in inputs)
    lines, prev, starred = [], None, False
    for at in range(0, len(data), 16):
        row = data[at:at + 16]
        if row == prev:
            if not starred:
                lines.append("*")
            starred = True
            continue
        prev, starred = row, False
        head = OFFSET[radix].format(at)
        for i, k in enumerate(kinds):
            lines.append((head if i == 0 else " " * len(head)) + fields(row, k))
    if data or radix != "n":
        lines.append(OFFSET[radix].format(len(data)) if radix != "n" else "")
    out("".join(ln + "\n" for ln in lines if ln or radix != "n"))
    return 2 if inputs.status else 0


def fields(row: bytes, kind: str) -> str:
    if kind in "bc":
        if kind == "b":
            return "".join(f" {b:03o}" for b in row)
        return "".join(f" {_char(b):>3}" for b in row)
    words = [int.from_bytes(row[i:i + 2].ljust(2, b"\0"), "little")
             for i in range(0, len(row), 2)]
    fmt = {"o": " {:06o}", "x": " {:04x}", "d": " {:5d}"}[kind]
    return "".join(fmt.format(w) for w in words)


def _char(b: int) -> str:
    if b in NAMED:
        return NAMED[b]
    return chr(b) if 32 <= b < 127 else f"{b:03o}"
