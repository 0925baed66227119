"""The shell's syntax (for /bin/sh): the lexer and the parser, a library like libc.

    lex(text)   -> tokens: ("w", segments) | ("op", "&&" "||" ";" "&" "|") |
                   ("redir", fd, "<" ">" ">>" "<&" ">&")
    parse(toks) -> [(and_or, background)], and_or = [(None | "&&" | "||", pipeline)],
                   pipeline = [{"assign": [(name, word)], "words": [word],
                                "redirs": [(fd, op, word)]}]

A word is a list of segments (kind, text, quoted): kind "lit" (text as written) or
"var" (a parameter name: NAME, ?, $, !, #, @, *, 0-9), `quoted` when it was inside
quotes (no field splitting, no globbing). Expansion happens when the command runs, so
`X=1; echo $X` sees the assignment. Errors raise ShellError.
"""
from __future__ import annotations

__all__ = ["ShellError", "lex", "parse", "OPERATORS"]

OPERATORS = ("&&", "||", ";", "&", "|")


class ShellError(Exception):
    """A syntax or expansion error: reported, status 2."""


# -- lexing: words are lists of segments (kind, text, quoted) --------------------------

def lex(src):
    toks, cur, i, n = [], None, 0, len(src)

    def seg(kind, text, quoted):
        nonlocal cur
        if cur is None:
            cur = []
        if kind == "lit" and cur and cur[-1][0] == "lit" and cur[-1][2] == quoted:
            cur[-1] = ("lit", cur[-1][1] + text, quoted)
        else:
            cur.append((kind, text, quoted))

    def flush():
        nonlocal cur
        if cur is not None:
            toks.append(("w", cur))
        cur = None

    while i < n:
        c = src[i]
        if c in " \t\r":
            flush()
            i += 1
        elif c == "\n":
            flush()
            toks.append(("op", ";"))
            i += 1
        elif c == "#" and cur is None:
            while i < n and src[i] != "\n":
                i += 1
        elif c in "<>":
            fd = 0 if c == "<" else 1
            if cur is not None and len(cur) == 1 and cur[0][0] == "lit" and not cur[0][2] \
                    and cur[0][1].isdigit():
                fd, cur = int(cur[0][1]), None
            flush()
            op, i = c, i + 1
            if c == ">" and src[i:i + 1] == ">":
                op, i = ">>", i + 1
            if src[i:i + 1] == "&":
                op, i = op + "&", i + 1
            toks.append(("redir", fd, op))
        elif c in "|&;":
            flush()
            two = src[i:i + 2]
            op = two if two in ("&&", "||") else c
            toks.append(("op", op))
            i += len(op)
        elif c == "'":
            j = src.find("'", i + 1)
            if j < 0:
                raise ShellError("unterminated '")
            seg("lit", src[i + 1:j], True)
            i = j + 1
        elif c == '"':
            i = _dquote(src, i + 1, seg)
        elif c == "\\":
            if src[i + 1:i + 2] == "\n":
                i += 2
            else:
                seg("lit", src[i + 1:i + 2], True)
                i += 2
        elif c == "$":
            i = _dollar(src, i, seg, False)
        else:
            seg("lit", c, False)
            i += 1
    flush()
    return toks


def _dquote(src, i, seg):
    text = ""
    while True:
        if i >= len(src):
            raise ShellError('unterminated "')
        c = src[i]
        if c == '"':
            seg("lit", text, True)
            return i + 1
        if c == "\\" and src[i + 1:i + 2] in ('"', "\\", "$", "`", "\n"):
            text += src[i + 1] if src[i + 1] != "\n" else ""
            i += 2
        elif c == "$":
            seg("lit", text, True)
            text = ""
            i = _dollar(src, i, seg, True)
        else:
            text += c
            i += 1


def _dollar(src, i, seg, quoted):
    """$NAME, ${NAME}, or a special parameter at src[i] == "$"."""
    rest = src[i + 1:]
    if rest[:1] == "{":
        j = rest.find("}")
        if j < 0:
            raise ShellError("missing }")
        seg("var", rest[1:j], quoted)
        return i + 2 + j
    if rest[:1] and rest[0] in "?$!#@*0123456789":
        seg("var", rest[0], quoted)
        return i + 2
    j = 0
    while j < len(rest) and (rest[j].isalnum() or rest[j] == "_"):
        j += 1
    if j == 0 or rest[0].isdigit():
        seg("lit", "$", quoted)
        return i + 1
    seg("var", rest[:j], quoted)
    return i + 1 + j


# -- parsing: [(and_or, background)], and_or = [(connector, [command])] ---------------

def parse(toks):
    items, andor, pipeline, cmd = [], [], [], None
    conn = None

    def end_cmd():
        nonlocal cmd
        if cmd is None:
            raise ShellError("syntax error: missing command")
        pipeline.append(cmd)
        cmd = None

    def end_pipeline():
        nonlocal pipeline, conn
        end_cmd()
        andor.append((conn, pipeline))
        pipeline, conn = [], None

    it = iter(toks)
    for tok in it:
        if tok[0] == "w":
            cmd = cmd or {"assign": [], "words": [], "redirs": []}
            s = tok[1]
            if not cmd["words"] and s[0][0] == "lit" and not s[0][2] and "=" in s[0][1] \
                    and s[0][1].split("=", 1)[0].isidentifier():
                name, first = s[0][1].split("=", 1)
                cmd["assign"].append((name, [("lit", first, True)] + s[1:]))
            else:
                cmd["words"].append(s)
        elif tok[0] == "redir":
            target = next(it, None)
            if target is None or target[0] != "w":
                raise ShellError(f"syntax error near {tok[2]}")
            cmd = cmd or {"assign": [], "words": [], "redirs": []}
            cmd["redirs"].append((tok[1], tok[2], target[1]))
        elif tok[1] == "|":
            end_cmd()
        elif tok[1] in ("&&", "||"):
            end_pipeline()
            conn = tok[1]
        else:                                     # ; or &
            if cmd is None and not pipeline and not andor:
                if tok[1] == "&":
                    raise ShellError("syntax error near &")
                continue
            end_pipeline()
            items.append((andor, tok[1] == "&"))
            andor = []
    if cmd is not None or pipeline or andor:
        end_pipeline()
        items.append((andor, False))
    return items
