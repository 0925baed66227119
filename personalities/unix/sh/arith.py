"""Arithmetic expansion `$(( ))` (XCU 2.6.4): C's integer expressions, signed 64-bit.

`evaluate(text, vars)` evaluates an already expanded expression: decimal, octal (0..)
and hex (0x..) constants; variables by name (unset or empty is 0, a value is itself
evaluated as a number); unary + - ! ~; * / %; + -; << >>; < <= > >=; == !=; & ^ |;
&& ||; ?:; = *= /= %= += -= <<= >>= &= ^= |= (they set the variable through
`vars.assign`); parentheses. Errors raise ShellError.
"""
from __future__ import annotations

import re

from .errors import ShellError

__all__ = ["evaluate"]

TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|[0-9]+[a-zA-Z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*)|"
                   r"(<<=|>>=|[-+*/%&^|]=|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%<>&^|!~?:=()]))")
BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="),
          ("<<", ">>"), ("+", "-"), ("*", "/", "%")]
ASSIGN = {"=", "*=", "/=", "%=", "+=", "-=", "<<=", ">>=", "&=", "^=", "|="}


def _wrap(n: int) -> int:
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >> 63 else n


def _number(text: str) -> int:
    try:
        if text[:2] in ("0x", "0X"):
            return int(text[2:], 16)
        if len(text) > 1 and text[0] == "0":
            return int(text, 8)
        return int(text)
    except ValueError:
        raise ShellError(f"arithmetic: bad number: {text}") from None


def _binop(op: str, a: int, b: int) -> int:
    if op in ("/", "%") and b == 0:
        raise ShellError("arithmetic: division by zero")
    if op == "/":
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q
    if op == "%":
        return a - b * _binop("/", a, b)
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
            "<<": lambda: a << (b & 63), ">>": lambda: a >> (b & 63),
            "<": lambda: int(a < b), "<=": lambda: int(a <= b), ">": lambda: int(a > b),
            ">=": lambda: int(a >= b), "==": lambda: int(a == b), "!=": lambda: int(a != b),
            "&": lambda: a & b, "^": lambda: a ^ b, "|": lambda: a | b}[op]()


class _Eval:
    def __init__(self, text: str, vars):
        self.toks, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ShellError(f"arithmetic: syntax error: {text[pos:].strip()}")
            num, name, op = m.groups()
            self.toks.append(("n", num) if num else ("v", name) if name else ("o", op))
            pos = m.end()
        self.i, self.vars = 0, vars

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else ("", "")

    def op(self, *ops) -> str | None:
        kind, v = self.peek()
        if kind == "o" and v in ops:
            self.i += 1
            return v
        return None

    def expr(self, run: bool = True) -> int:
        kind, v = self.peek()
        nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else ("", "")
        if kind == "v" and nxt[0] == "o" and nxt[1] in ASSIGN:
            self.i += 2
            value = self.expr(run)
            if nxt[1] != "=":
                value = _binop(nxt[1][:-1], self.var(v), value) if run else 0
            value = _wrap(value)
            if run:
                self.vars.assign(v, str(value))
            return value
        return self.cond(run)

    def cond(self, run: bool) -> int:
        c = self.binary(0, run)
        if not self.op("?"):
            return c
        a = self.expr(run and c != 0)
        if not self.op(":"):
            raise ShellError("arithmetic: expecting ':'")
        b = self.cond(run and c == 0)
        return a if c else b

    def binary(self, level: int, run: bool) -> int:
        if level == len(BINARY):
            return self.unary(run)
        a = self.binary(level + 1, run)
        while (op := self.op(*BINARY[level])) is not None:
            if op == "&&":
                b = self.binary(level + 1, run and a != 0)
                a = int(a != 0 and b != 0)
            elif op == "||":
                b = self.binary(level + 1, run and a == 0)
                a = int(a != 0 or b != 0)
            else:
                b = self.binary(level + 1, run)
                a = _wrap(_binop(op, a, b)) if run else 0
        return a

    def unary(self, run: bool) -> int:
        op = self.op("+", "-", "!", "~")
        if op:
            v = self.unary(run)
            return {"+": v, "-": _wrap(-v), "!": int(v == 0), "~": ~v}[op]
        if self.op("("):
            v = self.expr(run)
            if not self.op(")"):
                raise ShellError("arithmetic: missing )")
            return v
        kind, v = self.peek()
        self.i += 1
        if kind == "n":
            return _wrap(_number(v))
        if kind == "v":
            return self.var(v) if run else 0
        raise ShellError("arithmetic: syntax error" + (f" near {v}" if v else ""))

    def var(self, name: str) -> int:
        text = (self.vars.get(name) or "").strip()
        if not text:
            return 0
        if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|[0-9]+)", text):
            sign = -1 if text[0] == "-" else 1
            return _wrap(sign * _number(text.lstrip("+-")))
        return evaluate(text, self.vars)


def evaluate(text: str, vars) -> int:
    """The value of expression `text`; `vars.get(name)` and `vars.assign(name, value)`
    read and set variables."""
    if not text.strip():
        return 0
    e = _Eval(text, vars)
    v = e.expr()
    if e.i != len(e.toks):
        raise ShellError(f"arithmetic: syntax error near {e.toks[e.i][1]}")
    return v
