"""Word expansion (XCU 2.6): tilde, parameters, command substitution, arithmetic, then
field splitting, pathname expansion and quote removal.

A word expands first into chunks `(text, quoted, split)`: quoted text is never split
or globbed; `split` marks the results of unquoted expansions, the only text that IFS
splits. `BREAK` (from "$@") ends a field there. Then:

    fields(sh, words)   -> the fields of a command's words (split, globbed)
    string(sh, word)    -> one string: assignments, redirection targets, here-documents
    pattern(sh, word)   -> a pattern (case, ${x#pat}): quoted parts escaped

`sh` is the shell (execute.Shell): its `get`, `assign`, `positional`, `options`,
`substitute` (run a command substitution), `listdir` and `home`.
"""
from __future__ import annotations

from . import pattern as pat
from .arith import evaluate
from .ast import DQ, Arith, CmdSub, Lit, Param, Quoted, Word
from .errors import ShellError

__all__ = ["fields", "string", "pattern", "BREAK"]

BREAK = ("", None, None)          # a field ends here ("$@")
SOFT = ("", None, False)          # a field ends here if it has text (unquoted $@)


def _chunks(sh, parts, quoted: bool, out: list, arg: bool = False) -> list:
    for i, p in enumerate(parts):
        if isinstance(p, Lit):
            if i == 0 and not quoted and p.text.startswith("~") and not arg:
                p = _tilde(sh, p, parts, out)
            if p.text:
                out.append((p.text, quoted, arg and not quoted))
        elif isinstance(p, Quoted):
            out.append((p.text, True, False))
        elif isinstance(p, DQ):
            n = len(out)
            _chunks(sh, p.parts, True, out)
            if len(out) == n and not any(isinstance(q, Param) and q.name == "@"
                                         for q in p.parts):
                out.append(("", True, False))
        elif isinstance(p, Param):
            _param(sh, p, quoted, out)
        elif isinstance(p, CmdSub):
            out.append((sh.substitute(p.body), quoted, not quoted))
        elif isinstance(p, Arith):
            value = evaluate(string(sh, p.expr), sh)
            out.append((str(value), quoted, not quoted))
    return out


def _tilde(sh, p: Lit, parts, out) -> Lit:
    """~ and ~user at the start of a word: the home directory, as quoted text."""
    prefix, slash, rest = p.text.partition("/")
    if not slash and len(parts) > 1:
        return p
    home = sh.home(prefix[1:])
    if home is None:
        return p
    out.append((home, True, False))
    return Lit(slash + rest)


def _param(sh, p: Param, quoted: bool, out: list) -> None:
    name, op = p.name, p.op
    if op == "#len":
        v = _value(sh, name, strict=True)
        out.append((str(len(v)), quoted, not quoted))
        return
    is_set = (len(sh.positional) > 0) if name in "@*" else sh.get(name) is not None
    if p.colon and is_set:
        is_set = _value(sh, name) != ""
    if op == "-" or op == "+":
        if (op == "-") != is_set:
            _chunks(sh, p.arg.parts, quoted, out, arg=True)
            return
        if op == "+":
            return
    elif op == "=" and not is_set:
        if name in "@*#?-$!" or name.isdigit():
            raise ShellError(f"{name}: cannot assign in this way")
        sh.assign(name, string(sh, p.arg))
    elif op == "?" and not is_set:
        msg = string(sh, p.arg) or ("parameter null or not set" if p.colon
                                    else "parameter not set")
        raise ShellError(f"{name}: {msg}")
    elif op in ("#", "##", "%", "%%"):
        v = pat.strip(_value(sh, name, strict=True), pattern(sh, p.arg), op)
        out.append((v, quoted, not quoted))
        return
    if name in "@*":
        _positional(sh, name, quoted, out)
        return
    out.append((_value(sh, name, strict=True), quoted, not quoted))


def _value(sh, name: str, strict: bool = False) -> str:
    if name in "@*":
        return " ".join(sh.positional)
    v = sh.get(name)
    if v is None:
        if strict and "u" in sh.options and not (name in "@*#?-$!" or name == "0"):
            raise ShellError(f"{name}: parameter not set")
        return ""
    return v


def _positional(sh, name: str, quoted: bool, out: list) -> None:
    args = sh.positional
    if quoted and name == "*":
        ifs = sh.get("IFS")
        out.append(((" " if ifs is None else ifs[:1]).join(args), True, False))
        return
    for i, a in enumerate(args):
        if i:
            out.append(BREAK if quoted else SOFT)
        out.append((a, quoted, not quoted))


def _split(chunks: list, ifs: str | None) -> list[list]:
    """Fields of (text, quoted) chunks: split where unquoted expansions hold IFS."""
    ifs = " \t\n" if ifs is None else ifs
    white = "".join(c for c in ifs if c in " \t\n")
    fields, cur, have, after_white = [], [], False, False
    for text, quoted, split in chunks:
        if quoted is None:                          # BREAK or SOFT
            if split is None or have:
                fields.append(cur)
                cur, have = [], split is None
            continue
        if not split or not ifs:
            cur.append((text, quoted))
            have = have or quoted or bool(text)
            after_white = False if (quoted or text) else after_white
            continue
        start = 0
        for i, c in enumerate(text):
            if c not in ifs:
                continue
            if i > start:
                cur.append((text[start:i], False))
                have = True
            start = i + 1
            if c in white:
                if have:
                    fields.append(cur)
                    cur, have, after_white = [], False, True
            else:
                if have or not after_white:
                    fields.append(cur)
                cur, have, after_white = [], False, False
        if start < len(text):
            cur.append((text[start:], False))
            have, after_white = True, False
    if have:
        fields.append(cur)
    return fields


def fields(sh, words) -> list[str]:
    out = []
    for w in words:
        for f in _split(_chunks(sh, w.parts, False, []), sh.get("IFS")):
            text = "".join(t for t, _ in f)
            if "f" not in sh.options and any(not q and any(c in t for c in "*?[")
                                             for t, q in f):
                p = "".join(t if not q else pat.escape(t) for t, q in f)
                if pat.has_magic(p):
                    hits = pat.glob(p, sh.listdir)
                    if hits:
                        out += hits
                        continue
            out.append(text)
    return out


def string(sh, word: Word | None) -> str:
    if word is None:
        return ""
    return "".join(" " if q is None else t for t, q, _ in _chunks(sh, word.parts, False, []))


def pattern(sh, word: Word | None) -> str:
    if word is None:
        return ""
    return "".join(" " if q is None else (pat.escape(t) if q else t)
                   for t, q, _ in _chunks(sh, word.parts, False, []))
