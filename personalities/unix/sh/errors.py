"""The shell's exceptions: errors it reports, and the control flow of its builtins.

A `ShellError` is reported as `sh: LINE: reason` and sets a nonzero status; a syntax
error is one (status 2), and `Incomplete` is a syntax error only because the input
ended (an interactive shell reads another line instead). `Break`, `Continue`,
`Return` and `Exit` carry break, continue, return and exit up to where they end.
"""
from __future__ import annotations

__all__ = ["ShellError", "RedirError", "SyntaxErr", "Incomplete", "Break", "Continue", "Return", "Exit",
           "Interrupt"]


class ShellError(Exception):
    """An error to report as `sh: LINE: text`; status is the shell's status after it."""

    def __init__(self, text: str, line: int = 0, status: int = 2):
        super().__init__(text)
        self.text, self.line, self.status = text, line, status


class RedirError(ShellError):
    """A redirection (or a builtin's write) failed: the command does not run (or
    fails), its status is `status`, the shell goes on."""

    def __init__(self, text: str, status: int = 2):
        super().__init__(text, 0, status)


class SyntaxErr(ShellError):
    """The input is not a command."""


class Incomplete(SyntaxErr):
    """The input ended inside a command (an open quote, `if` without `fi`, ...)."""


class Break(Exception):
    def __init__(self, n: int):
        self.n = n


class Continue(Break):
    pass


class Return(Exception):
    def __init__(self, status: int):
        self.status = status


class Interrupt(BaseException):
    """^C reached the interactive shell: back to the prompt (no `except Exception`
    on the way may keep it)."""


class Exit(Exception):
    def __init__(self, status: int):
        self.status = status
