#!mk
"""tr [-ds] SET1 [SET2]: copy standard input to standard output, translating the
characters of SET1 to those of SET2 (the last repeated), or deleting them (-d);
-s: runs of one character of the last set squeezed to one. Sets have ranges (a-z),
escapes (\\n \\t \\\\ \\NNN) and classes ([:alpha:] [:digit:] [:lower:] [:upper:]
[:space:] [:alnum:] [:punct:])."""
import re
import string

from personalities.unix import libc
from personalities.unix.progargs import options, out, usage_error

__all__ = ["main"]

USAGE = "tr [-ds] SET1 [SET2]"
CLASSES = {"alpha": string.ascii_letters, "digit": string.digits, "alnum":
           string.ascii_letters + string.digits, "lower": string.ascii_lowercase,
           "upper": string.ascii_uppercase, "space": " \t\n\r\v\f",
           "blank": " \t", "punct": string.punctuation}
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "a": "\a", "b": "\b",
           "f": "\f", "v": "\v"}


def main(argv, envp):
    opts, sets = options("tr", argv[1:], "ds", USAGE)
    n, d, s = len(sets), "d" in opts, "s" in opts
    if not (n == 2 if d == s else (n == 1 if d else n in (1, 2))):
        usage_error("tr", USAGE, "wrong number of sets")
    set1 = expand(sets[0])
    set2 = expand(sets[1]) if len(sets) > 1 else ""
    data = bytearray()
    while chunk := libc.read(0, 65536):
        data += chunk
    text = data.decode("latin-1")
    if "d" in opts:
        text = text.translate({ord(c): None for c in set1})
    elif set2:
        pad = set2 + set2[-1] * max(0, len(set1) - len(set2))
        text = text.translate({ord(a): b for a, b in zip(set1, pad)})
    if "s" in opts:
        squeeze = set2 or set1
        text = re.sub("([" + re.escape(squeeze) + "])\\1+", r"\1", text) if squeeze else text
    out(text.encode("latin-1"))
    return 0


def expand(spec: str) -> str:
    """The characters a set names, in order."""
    chars, i = [], 0
    while i < len(spec):
        m = re.match(r"\[:(\w+):\]", spec[i:])
        if m and m.group(1) in CLASSES:
            chars += CLASSES[m.group(1)]
            i += m.end()
            continue
        c, i = _char(spec, i)
        if i + 1 < len(spec) and spec[i] == "-":
            hi, j = _char(spec, i + 1)
            if ord(hi) < ord(c):
                usage_error("tr", USAGE, f"range-endpoints of '{c}-{hi}' are in reverse order")
            chars += [chr(k) for k in range(ord(c), ord(hi) + 1)]
            i = j
        else:
            chars.append(c)
    return "".join(chars)


def _char(spec, i):
    """(the character at i, its escape done, the index after it)."""
    if spec[i] != "\\" or i + 1 >= len(spec):
        return spec[i], i + 1
    m = re.match(r"[0-7]{1,3}", spec[i + 1:])
    if m:
        return chr(int(m.group(0), 8)), i + 1 + m.end()
    return ESCAPES.get(spec[i + 1], spec[i + 1]), i + 2
