"""The shell's parser: POSIX grammar (XCU 2.10) by recursive descent over the lexer's
tokens, into ast nodes.

`Parser(text).next_command()` gives the complete commands of a script one at a time
(a script runs each as it is parsed, so a syntax error on line 5 is found after
lines 1-4 ran, as in every Bourne shell); `parse_all()` parses the whole text.
Reserved words are recognized only where a command begins (and `in`/`do` where the
grammar expects them). Errors raise SyntaxErr, or Incomplete when the text ended.
"""
from __future__ import annotations

from .ast import (AndOr, Case, FuncDef, For, Group, If, List, Lit, Param, Pipeline,
                  Quoted, Redir, Simple, Subshell, While, Word, DQ)
from .errors import Incomplete, SyntaxErr
from .lexer import Lexer, Token

__all__ = ["Parser", "parse"]

RESERVED = {"if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while",
            "until", "for", "{", "}", "!", "in"}
ENDS = {"then", "else", "elif", "fi", "do", "done", "esac", "}"}
REDIR_OPS = {"<", ">", ">>", ">|", "<>", "<&", ">&", "<<", "<<-"}


def _is_name(s: str) -> bool:
    return bool(s) and (s[0].isalpha() or s[0] == "_") and all(
        c.isalnum() or c == "_" for c in s)


class Parser:
    def __init__(self, src: str, pos: int = 0, base_line: int = 1, nls=None):
        self.lx = Lexer(src, pos, base_line, nls)
        self.tok: Token | None = None

    # -- tokens -------------------------------------------------------------------------

    def peek(self) -> Token:
        if self.tok is None:
            self.tok = self.lx.next()
        return self.tok

    def take(self) -> Token:
        t = self.peek()
        self.tok = None
        return t

    def reserved(self, *words: str) -> str | None:
        """The reserved word the next token is, if it is one of `words`."""
        t = self.peek()
        if t.kind == "word":
            text = t.value.plain()
            if text in words:
                return text
        return None

    def is_op(self, *ops: str) -> bool:
        t = self.peek()
        return t.kind == "op" and t.value in ops

    def unexpected(self, t: Token | None = None):
        t = t or self.peek()
        if t.kind == "eof":
            return Incomplete("syntax error: end of file unexpected", t.line)
        what = {"newline": "newline", "word": getattr(t.value, "text", "")}.get(
            t.kind, t.value)
        return SyntaxErr(f'syntax error: "{what}" unexpected', t.line)

    def expect_word(self, word: str) -> None:
        if not self.reserved(word):
            t = self.peek()
            if t.kind == "eof":
                raise Incomplete(f'syntax error: end of file unexpected (expecting "{word}")',
                                 t.line)
            raise self.unexpected()
        self.take()

    def linebreak(self) -> None:
        while self.peek().kind == "newline":
            self.take()

    # -- lists --------------------------------------------------------------------------

    def next_command(self) -> List | None:
        """The next complete command (one line's list), or None at the end."""
        self.linebreak()
        if self.peek().kind == "eof":
            return None
        body = self.list(top=True)
        t = self.peek()
        if t.kind == "newline":
            self.take()
        elif t.kind != "eof":
            raise self.unexpected()
        return body

    def parse_all(self) -> List:
        items, line = [], self.peek().line
        while (cmd := self.next_command()) is not None:
            items += cmd.items
        return List(items, line)

    def parse_subst(self) -> List:
        """The body of `$( )`, up to and with its `)`."""
        self.linebreak()
        if self.is_op(")"):
            self.take()
            return List([], self.lx.line_at(self.lx.pos))
        body = self.list()
        if not self.is_op(")"):
            raise self.unexpected()
        self.take()
        return body

    def list(self, top: bool = False) -> List:
        """and-or lists separated by ; & (and newlines unless `top`), up to a token that
        cannot begin a command."""
        items, line = [], self.peek().line
        while True:
            if not top:
                self.linebreak()
            t = self.peek()
            if t.kind in ("eof", "newline") or self.is_op(")", ";;") or (
                    t.kind == "word" and t.value.plain() in ENDS):
                break
            ao = self.and_or()
            if self.is_op(";", "&"):
                items.append((ao, self.take().value == "&"))
            else:
                items.append((ao, False))
                if not (self.peek().kind == "newline" and not top):
                    break
        if not items:
            raise self.unexpected()
        return List(items, line)

    def and_or(self) -> AndOr:
        line = self.peek().line
        first, rest = self.pipeline(), []
        while self.is_op("&&", "||"):
            op = self.take().value
            self.linebreak()
            rest.append((op, self.pipeline()))
        return AndOr(first, rest, line)

    def pipeline(self) -> Pipeline:
        line = self.peek().line
        negate = bool(self.reserved("!"))
        if negate:
            self.take()
        cmds = [self.command()]
        while self.is_op("|"):
            self.take()
            self.linebreak()
            cmds.append(self.command())
        return Pipeline(cmds, negate, line)

    # -- commands -----------------------------------------------------------------------

    def command(self):
        t = self.peek()
        if t.kind == "op" and t.value == "(":
            self.take()
            body = self.list()
            if not self.is_op(")"):
                raise self.unexpected()
            self.take()
            return self.redirected(Subshell(body, line=t.line))
        word = self.reserved("if", "while", "until", "for", "case", "{")
        if word:
            self.take()
            node = getattr(self, "c_" + {"{": "group"}.get(word, word))(t.line)
            return self.redirected(node)
        if t.kind == "word" and t.value.plain() in RESERVED:
            raise self.unexpected()
        return self.simple()

    def redirected(self, node):
        while (r := self.redirection()) is not None:
            node.redirs.append(r)
        return node

    def simple(self):
        t = self.peek()
        cmd = Simple([], [], [], t.line)
        while True:
            r = self.redirection()
            if r is not None:
                cmd.redirs.append(r)
                continue
            t = self.peek()
            if t.kind != "word":
                break
            self.take()
            w = t.value
            if not cmd.words and (a := self.assignment(w)) is not None:
                cmd.assigns.append(a)
                continue
            if not cmd.words and not cmd.assigns and not cmd.redirs and self.is_op("("):
                return self.funcdef(w, t)
            cmd.words.append(w)
        if not (cmd.words or cmd.assigns or cmd.redirs):
            raise self.unexpected()
        return cmd

    @staticmethod
    def assignment(w: Word):
        first = w.parts[0] if w.parts else None
        if not isinstance(first, Lit) or "=" not in first.text:
            return None
        name, value = first.text.split("=", 1)
        if not _is_name(name):
            return None
        rest = ([Lit(value)] if value else []) + w.parts[1:]
        return name, Word(rest, w.text[len(name) + 1:])

    def funcdef(self, w: Word, t: Token) -> FuncDef:
        name = w.plain()
        if name is None or not _is_name(name) or name in RESERVED:
            raise SyntaxErr(f"syntax error: bad function name {w.text}", t.line)
        self.take()
        if not self.is_op(")"):
            raise self.unexpected()
        self.take()
        self.linebreak()
        body = self.command()
        if not isinstance(body, (Group, Subshell, If, While, For, Case)):
            raise SyntaxErr("syntax error: a function body must be a compound command",
                            t.line)
        return FuncDef(name, body, t.line)

    def redirection(self) -> Redir | None:
        t = self.peek()
        fd = None
        if t.kind == "io":
            self.take()
            fd = t.value
            t = self.peek()
            if not (t.kind == "op" and t.value in REDIR_OPS):
                raise self.unexpected()
        elif not (t.kind == "op" and t.value in REDIR_OPS):
            return None
        op = self.take().value
        target = self.take()
        if target.kind != "word":
            raise self.unexpected(target)
        if fd is None:
            fd = 0 if op[0] == "<" else 1
        r = Redir(fd, op, target.value)
        if op in ("<<", "<<-"):
            r.quoted = any(not isinstance(p, Lit) for p in target.value.parts)
            delim = "".join(_literal(p) for p in target.value.parts)
            self.lx.heredoc(r, delim, op == "<<-")
        return r

    # -- compound commands ---------------------------------------------------------------

    def c_group(self, line: int) -> Group:
        body = self.list()
        self.expect_word("}")
        return Group(body, line=line)

    def c_if(self, line: int) -> If:
        arms, orelse = [], None
        while True:
            cond = self.list()
            self.expect_word("then")
            arms.append((cond, self.list()))
            word = self.reserved("elif", "else", "fi")
            if word is None:
                self.expect_word("fi")
            self.take()
            if word == "else":
                orelse = self.list()
                self.expect_word("fi")
            if word != "elif":
                return If(arms, orelse, line=line)

    def c_while(self, line: int, until: bool = False) -> While:
        cond = self.list()
        return While(cond, self.do_group(), until, line=line)

    def c_until(self, line: int) -> While:
        return self.c_while(line, until=True)

    def do_group(self) -> List:
        self.expect_word("do")
        body = self.list()
        self.expect_word("done")
        return body

    def c_for(self, line: int) -> For:
        t = self.take()
        name = t.value.plain() if t.kind == "word" else None
        if not name or not _is_name(name):
            raise self.unexpected(t)
        words = None
        self.linebreak()
        if self.reserved("in"):
            self.take()
            words = []
            while self.peek().kind == "word":
                words.append(self.take().value)
            if not self.is_op(";") and self.peek().kind != "newline":
                raise self.unexpected()
            self.take()
        elif self.is_op(";"):
            self.take()
        self.linebreak()
        return For(name, words, self.do_group(), line=line)

    def c_case(self, line: int) -> Case:
        t = self.take()
        if t.kind != "word":
            raise self.unexpected(t)
        self.linebreak()
        self.expect_word("in")
        arms = []
        while True:
            self.linebreak()
            if self.reserved("esac"):
                self.take()
                return Case(t.value, arms, line=line)
            if self.is_op("("):
                self.take()
            patterns = [self.pattern()]
            while self.is_op("|"):
                self.take()
                patterns.append(self.pattern())
            if not self.is_op(")"):
                raise self.unexpected()
            self.take()
            self.linebreak()
            body = None if self.is_op(";;") or self.reserved("esac") else self.list()
            arms.append((patterns, body))
            if self.is_op(";;"):
                self.take()
            elif not self.reserved("esac"):
                raise self.unexpected()

    def pattern(self) -> Word:
        t = self.take()
        if t.kind != "word":
            raise self.unexpected(t)
        return t.value


def _literal(part) -> str:
    """A here-document delimiter's text: the word with its quotes removed."""
    if isinstance(part, (Lit, Quoted)):
        return part.text
    if isinstance(part, DQ):
        return "".join(_literal(p) for p in part.parts)
    if isinstance(part, Param):
        return "$" + part.name
    return ""


def parse(text: str) -> List:
    """The whole of `text` as one list."""
    return Parser(text).parse_all()


Lexer.make_parser = Parser
