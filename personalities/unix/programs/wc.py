#!mk
"""wc [-lwc] [FILE...]: count lines, words and bytes (of standard input without files)."""
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-") and len(a) > 1) or "lwc"
    paths = [a for a in argv[1:] if not (a.startswith("-") and len(a) > 1)]
    status, totals, rows = 0, [0, 0, 0], []
    for path in paths or ["-"]:
        try:
            data = libc.read_all(path)
        except OSError as e:
            print(f"wc: {path}: {e.strerror}", file=sys.stderr)
            status = 1
            continue
        counts = [data.count(b"\n"), len(data.split()), len(data)]
        totals = [a + b for a, b in zip(totals, counts)]
        rows.append((counts, "" if path == "-" else path))
    if len(rows) > 1:
        rows.append((totals, "total"))
    # GNU wc: one count of standard input alone is printed bare; else columns
    width = 0 if len(rows) == 1 and not rows[0][1] and len(flags) == 1 else 7
    for counts, name in rows:
        cols = [f"{c:{width}}" for c, k in zip(counts, "lwc") if k in flags]
        print(" ".join(cols + ([name] if name else [])))
    return status

