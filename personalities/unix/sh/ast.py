"""The shell's syntax tree: what the parser builds and the executor and expander walk.

Words are lists of parts. A part is a literal (`Lit`, unquoted text as written, or
`Quoted`, text that was quoted or backslash-escaped), a double-quoted group (`DQ`), or
an expansion (`Param`, `CmdSub`, `Arith`). Commands are `Simple`, the compound ones
(`Group`, `Subshell`, `If`, `While`, `For`, `Case`), `FuncDef`, and the connectives
`Pipeline`, `AndOr` and `List`. Every command node keeps the line it began on.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Lit", "Quoted", "DQ", "Param", "CmdSub", "Arith", "Word", "Redir", "Simple",
           "Pipeline", "AndOr", "List", "Group", "Subshell", "If", "While", "For",
           "Case", "FuncDef"]


@dataclass
class Lit:
    text: str


@dataclass
class Quoted:
    text: str


@dataclass
class DQ:
    parts: list


@dataclass
class Param:
    """${name OP arg}: op "" (plain), "#len", or one of - = ? + # ## % %% with
    `colon` for the :- := :? :+ forms; arg is a Word or None."""
    name: str
    op: str = ""
    arg: "Word | None" = None
    colon: bool = False


@dataclass
class CmdSub:
    body: object                  # a List


@dataclass
class Arith:
    expr: "Word"                  # expanded, then evaluated (arith.py)


@dataclass
class Word:
    parts: list
    text: str = ""                # as written (for reserved words and messages)

    def plain(self) -> str | None:
        """The text if the word is one unquoted literal, else None."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Lit):
            return self.parts[0].text
        return None


@dataclass
class Redir:
    fd: int
    op: str                       # < > >> >| <> <& >& << <<-
    target: Word                  # a file, an fd, or (<<) the here-document's body
    quoted: bool = False          # << with a quoted delimiter: no expansion in the body


@dataclass
class Simple:
    assigns: list                 # [(name, Word)]
    words: list                   # [Word]
    redirs: list                  # [Redir]
    line: int = 0


@dataclass
class Pipeline:
    cmds: list
    negate: bool = False
    line: int = 0


@dataclass
class AndOr:
    first: Pipeline
    rest: list                    # [("&&" | "||", Pipeline)]
    line: int = 0


@dataclass
class List:
    items: list                   # [(AndOr, background)]
    line: int = 0


@dataclass
class Group:
    body: List
    redirs: list = field(default_factory=list)
    line: int = 0


@dataclass
class Subshell:
    body: List
    redirs: list = field(default_factory=list)
    line: int = 0


@dataclass
class If:
    arms: list                    # [(condition List, body List)]
    orelse: "List | None" = None
    redirs: list = field(default_factory=list)
    line: int = 0


@dataclass
class While:
    cond: List
    body: List
    until: bool = False
    redirs: list = field(default_factory=list)
    line: int = 0


@dataclass
class For:
    name: str
    words: "list | None"          # None: "$@"
    body: List
    redirs: list = field(default_factory=list)
    line: int = 0


@dataclass
class Case:
    word: Word
    arms: list                    # [([pattern Word], List | None)]
    redirs: list = field(default_factory=list)
    line: int = 0


@dataclass
class FuncDef:
    name: str
    body: object                  # a compound command
    line: int = 0
