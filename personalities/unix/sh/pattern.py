"""Shell patterns (XCU 2.13): matching for `case` and `${x#pat}`, and pathname
expansion with wildcards in any component of a path.

A pattern here is text in which a backslash quotes the next character: the expander
turns quoted parts of a word into `\\c`, so `"*"` matches only a star. `*`, `?` and
brackets (`[abc]`, `[a-z]`, `[!x]`, `[^x]`, `[[:digit:]]`) are the wildcards.
"""
from __future__ import annotations

import functools
import re

__all__ = ["match", "has_magic", "unescape", "escape", "strip", "glob"]

CLASSES = {"alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
           "lower": "a-z", "space": r" \t\n\r\f\v", "blank": r" \t", "punct":
           re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), "xdigit": "0-9A-Fa-f",
           "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e", "graph": r"\x21-\x7e"}


def escape(text: str) -> str:
    """`text` as a pattern that matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def unescape(pat: str) -> str:
    """The text a pattern without wildcards stands for (its backslashes removed)."""
    return re.sub(r"\\(.)", r"\1", pat, flags=re.S)


def has_magic(pat: str) -> bool:
    i = 0
    while i < len(pat):
        c = pat[i]
        if c == "\\":
            i += 2
            continue
        if c in "*?" or (c == "[" and _bracket(pat, i) is not None):
            return True
        i += 1
    return False


def _bracket(pat: str, i: int):
    """(regex, end) of the bracket expression at pat[i] == "[", or None if unclosed."""
    j = i + 1
    neg = j < len(pat) and pat[j] in "!^"
    j += neg
    out, first = [], True
    while j < len(pat):
        c = pat[j]
        if c == "]" and not first:
            body = "".join(out)
            return ("[^" if neg else "[") + body + "]", j + 1
        first = False
        if c == "[" and pat.startswith("[:", j):
            end = pat.find(":]", j + 2)
            if end > 0 and pat[j + 2:end] in CLASSES:
                out.append(CLASSES[pat[j + 2:end]])
                j = end + 2
                continue
        if c == "\\" and j + 1 < len(pat):
            j += 1
            c = pat[j]
        if c == "-" and out and j + 1 < len(pat) and pat[j + 1] != "]":
            out.append("-")
        else:
            out.append(re.escape(c) if c not in "-" else r"\-")
        j += 1
    return None


@functools.lru_cache(maxsize=256)
def _regex(pat: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pat):
        c = pat[i]
        if c == "\\" and i + 1 < len(pat):
            out.append(re.escape(pat[i + 1]))
            i += 2
        elif c == "*":
            out.append(".*")
            i += 1
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[" and (b := _bracket(pat, i)) is not None:
            out.append(b[0])
            i = b[1]
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.S)


def match(pat: str, text: str) -> bool:
    return _regex(pat).fullmatch(text) is not None


def strip(text: str, pat: str, op: str) -> str:
    """${x#pat} (shortest prefix), ## (longest), % (shortest suffix), %% (longest)."""
    n = len(text)
    if op in ("#", "##"):
        ends = range(n + 1) if op == "#" else range(n, -1, -1)
        for i in ends:
            if match(pat, text[:i]):
                return text[i:]
    else:
        starts = range(n, -1, -1) if op == "%" else range(n + 1)
        for i in starts:
            if match(pat, text[i:]):
                return text[:i]
    return text


def glob(pat: str, listdir) -> list[str]:
    """The paths that `pat` matches, sorted (wildcards in any component; a leading
    dot matched only explicitly); `listdir(dir)` lists a directory or raises OSError."""
    absolute = pat.startswith("/")
    comps = [c for c in pat.split("/") if c]
    trailing = pat.endswith("/") and len(pat) > 1
    paths = ["/" if absolute else ""]
    for k, comp in enumerate(comps):
        last = k == len(comps) - 1
        nxt = []
        for base in paths:
            magic = has_magic(comp)
            if not magic and comp in (".", ".."):
                nxt.append(_join(base, comp))
                continue
            try:
                names = listdir(base or ".")
            except OSError:
                continue
            if not magic:
                if unescape(comp) in names:
                    nxt.append(_join(base, unescape(comp)))
                continue
            for name in names:
                if name.startswith(".") and not comp.startswith("."):
                    continue
                if match(comp, name):
                    nxt.append(_join(base, name))
        paths = nxt
        if not last and not paths:
            return []
    if trailing:
        paths = [p + "/" for p in paths if _is_dir(p, listdir)]
    return sorted(paths)


def _join(base: str, name: str) -> str:
    if not base:
        return name
    return base + name if base.endswith("/") else base + "/" + name


def _is_dir(path: str, listdir) -> bool:
    try:
        listdir(path)
        return True
    except OSError:
        return False
