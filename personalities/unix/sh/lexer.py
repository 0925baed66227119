"""The shell's tokenizer: POSIX token recognition (XCU 2.3), words already split into
their parts (ast.Lit, Quoted, DQ, Param, CmdSub, Arith).

`Lexer.next()` gives one token at a time, as the parser asks, because the input
between tokens depends on what the parser saw: after `<<` the parser registers the
here-document (`heredoc`), whose body the lexer reads at the next newline. A `$( )`
is parsed by a parser over the same text (`make_parser`, the class parser.py sets),
so a `)` inside it (a case pattern, a quoted one) ends nothing early.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from .ast import DQ, Arith, CmdSub, Lit, Param, Quoted, Redir, Word
from .errors import Incomplete, SyntaxErr

__all__ = ["Lexer", "Token", "OPERATORS", "SPECIAL"]

OPERATORS = ("<<-", "&&", "||", ";;", "<<", ">>", "<&", ">&", "<>", ">|",
             ";", "&", "|", "(", ")", "<", ">")
META = set(" \t\n;&|<>()")
SPECIAL = set("@*#?-$!0123456789")


@dataclass
class Token:
    kind: str                     # "word", "op", "io", "newline", "eof"
    value: object                 # Word, operator text, fd number, None
    line: int


def _name_char(c: str) -> bool:
    return c.isalnum() or c == "_"


class Lexer:
    """Tokens of `src` from `pos` (line numbers from `base_line`)."""

    make_parser = None                        # parser.Parser(src, pos, base_line, nls)

    def __init__(self, src: str, pos: int = 0, base_line: int = 1, nls=None):
        self.src, self.pos, self.base = src, pos, base_line
        self.nls = nls if nls is not None else [i for i, c in enumerate(src) if c == "\n"]
        self.pending: list = []               # here-documents: (Redir, delim, strip)
        self.unterminated = False             # a here-document ended with the text

    def line_at(self, pos: int) -> int:
        return self.base + bisect.bisect_left(self.nls, pos)

    def error(self, text: str, pos: int | None = None, eof: bool = False):
        cls = Incomplete if eof else SyntaxErr
        return cls(text, self.line_at(self.pos if pos is None else pos))

    # -- tokens -------------------------------------------------------------------------

    def next(self) -> Token:
        src = self.src
        while True:
            while self.pos < len(src) and src[self.pos] in " \t\r":
                self.pos += 1
            if src.startswith("\\\n", self.pos):
                self.pos += 2
                continue
            if self.pos < len(src) and src[self.pos] == "#":
                while self.pos < len(src) and src[self.pos] != "\n":
                    self.pos += 1
            break
        start = self.pos
        line = self.line_at(start)
        if start >= len(src):
            if self.pending:
                self.read_heredocs()
            return Token("eof", None, line)
        c = src[start]
        if c == "\n":
            self.pos += 1
            if self.pending:
                self.read_heredocs()
            return Token("newline", None, line)
        for op in OPERATORS:
            if src.startswith(op, start):
                self.pos += len(op)
                return Token("op", op, line)
        word = self.read_word()
        text = word.text
        if text.isdigit() and self.pos < len(src) and src[self.pos] in "<>":
            return Token("io", int(text), line)
        return Token("word", word, line)

    def heredoc(self, redir: Redir, delim: str, strip: bool) -> None:
        """Read `redir`'s body after the next newline, up to a line `delim`."""
        self.pending.append((redir, delim, strip))

    def read_heredocs(self) -> None:
        src = self.src
        for redir, delim, strip in self.pending:
            lines, line0 = [], self.line_at(self.pos)
            while True:
                if self.pos >= len(src):
                    self.unterminated = True
                    break
                end = src.find("\n", self.pos)
                end = len(src) if end < 0 else end
                text = src[self.pos:end]
                self.pos = end + 1
                if strip:
                    text = text.lstrip("\t")
                if text == delim:
                    break
                lines.append(text + "\n")
            body = "".join(lines)
            if redir.quoted:
                redir.target = Word([Quoted(body)], body)
            else:
                parts = Lexer(body, 0, line0).read_parts("heredoc")
                redir.target = Word(parts, body)
        self.pending = []

    # -- words --------------------------------------------------------------------------

    def read_word(self) -> Word:
        start = self.pos
        parts = self.read_parts("word")
        return Word(parts, self.src[start:self.pos])

    def read_parts(self, mode: str, stop: str = "") -> list:
        """Parts up to the end of a word ("word"), a closing `"` ("dq"), a `}` in
        `stop` ("param", "dqparam": ${x-word}), or the end of the text ("heredoc",
        "arith")."""
        src, parts, lit = self.src, [], []
        quotes = mode in ("word", "param", "arith")
        in_dq = mode in ("dq", "dqparam")
        escapes = None if quotes else ("$`\\\n" + ('"' if in_dq else "")
                                       + ("}" if stop else ""))
        while self.pos < len(src):
            c = src[self.pos]
            if (mode == "word" and c in META) or (mode == "dq" and c == '"') or \
                    (stop and c in stop):
                break
            if c == "\\":
                part = self._backslash(escapes, mode)
            elif c == "'" and quotes:
                part = self._single_quoted()
            elif c == '"' and (quotes or mode == "dqparam"):
                part = self._double_quoted()
            elif c == "$":
                part = self.read_dollar(in_dq)
            elif c == "`":
                part = self.read_backquote(in_dq)
            else:
                lit.append(c)
                self.pos += 1
                continue
            if isinstance(part, str):
                lit.append(part)
            elif part is not None:
                if lit:
                    parts.append(Lit("".join(lit)))
                    lit.clear()
                parts.append(part)
        if lit:
            parts.append(Lit("".join(lit)))
        return parts

    def _backslash(self, escapes, mode: str):
        """At a backslash: a Quoted character, a literal backslash (text), or None
        (a line continuation)."""
        nxt = self.src[self.pos + 1:self.pos + 2]
        if nxt == "\n" or (not nxt and mode == "word"):
            self.pos += 1 + len(nxt)
            return None
        if escapes is None or (nxt and nxt in escapes):
            self.pos += 2
            return Quoted(nxt)
        self.pos += 1
        return "\\"

    def _single_quoted(self) -> Quoted:
        end = self.src.find("'", self.pos + 1)
        if end < 0:
            raise self.error("unterminated '", eof=True)
        text, self.pos = self.src[self.pos + 1:end], end + 1
        return Quoted(text)

    def _double_quoted(self) -> DQ:
        self.pos += 1
        inner = self.read_parts("dq")
        if self.pos >= len(self.src):
            raise self.error('unterminated "', eof=True)
        self.pos += 1
        return DQ(inner)

    def read_dollar(self, in_dq: bool):
        src, i = self.src, self.pos + 1
        while src.startswith("\\\n", i):
            i += 2
        c = src[i:i + 1]
        if src.startswith("((", i):
            end = self._arith_end(i + 2)
            if end is not None:
                parts = Lexer(src[i + 2:end], 0, self.line_at(i)).read_parts("arith")
                self.pos = end + 2
                return Arith(Word(parts, src[i + 2:end]))
        if c == "(":
            parser = Lexer.make_parser(src, i + 1, self.base, self.nls)
            body = parser.parse_subst()
            self.pos = parser.lx.pos
            return CmdSub(body)
        if c == "{":
            self.pos = i + 1
            return self.read_brace(in_dq)
        if c and c in SPECIAL:
            self.pos = i + 1
            return Param(c)
        j = i
        while j < len(src) and _name_char(src[j]):
            j += 1
        if j == i or src[i].isdigit():
            self.pos = i
            return Quoted("$") if in_dq else Lit("$")
        self.pos = j
        return Param(src[i:j])

    def _arith_end(self, i: int) -> int | None:
        """Where the `))` closing `$((` is, parentheses balanced; None if none is."""
        depth, src = 0, self.src
        while i < len(src):
            c = src[i]
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    return i if src.startswith("))", i) else None
                depth -= 1
            i += 1
        raise self.error("missing ))", eof=True)

    def read_brace(self, in_dq: bool) -> Param:
        src = self.src
        start = self.pos
        if src.startswith("#", start) and src[start + 1:start + 2] not in ("}", "") \
                and src[start + 1] not in "-=?+%#:":
            self.pos = start + 1
            p = self.read_brace(in_dq)
            if p.op:
                raise self.error("bad substitution")
            return Param(p.name, "#len")
        name = self._brace_name()
        if src.startswith("}", self.pos):
            self.pos += 1
            return Param(name)
        colon = src.startswith(":", self.pos)
        op = ""
        for cand in ("##", "%%", "#", "%", "-", "=", "?", "+"):
            if src.startswith(cand, self.pos + colon) and (not colon or len(cand) == 1
                                                           and cand in "-=?+"):
                op = cand
                break
        if not op:
            if self.pos >= len(src):
                raise self.error("missing }", eof=True)
            raise self.error("bad substitution")
        self.pos += colon + len(op)
        arg_start = self.pos
        parts = self.read_parts("dqparam" if in_dq else "param", stop="}")
        if self.pos >= len(src):
            raise self.error("missing }", eof=True)
        arg = Word(parts, src[arg_start:self.pos])
        self.pos += 1
        return Param(name, op, arg, colon)

    def _brace_name(self) -> str:
        src, i = self.src, self.pos
        if i < len(src) and src[i] in SPECIAL and not src[i].isdigit():
            self.pos = i + 1
            return src[i]
        j = i
        if i < len(src) and src[i].isdigit():
            while j < len(src) and src[j].isdigit():
                j += 1
        else:
            while j < len(src) and _name_char(src[j]):
                j += 1
        if j == i:
            if i >= len(src):
                raise self.error("missing }", eof=True)
            raise self.error("bad substitution")
        self.pos = j
        return src[i:j]

    def read_backquote(self, in_dq: bool) -> CmdSub:
        src, i, text = self.src, self.pos + 1, []
        while True:
            if i >= len(src):
                raise self.error("unterminated `", eof=True)
            c = src[i]
            if c == "`":
                break
            if c == "\\" and src[i + 1:i + 2] in ("$", "`", "\\") + (('"',) if in_dq else ()):
                text.append(src[i + 1])
                i += 2
                continue
            text.append(c)
            i += 1
        self.pos = i + 1
        return CmdSub(Lexer.make_parser("".join(text), 0, self.line_at(self.pos)).parse_all())
