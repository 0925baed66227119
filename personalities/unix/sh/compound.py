"""Compound commands (XCU 2.9.4): { }, ( ), if, case, while, until, for, with their
redirections. A mixin of execute.Shell.
"""
from __future__ import annotations

from . import expand, jobs
from .ast import Case, For, Group, If, Subshell
from .errors import Break
from .pattern import match

__all__ = ["CompoundCommands"]


class CompoundCommands:
    def compound(self, node, tail: bool) -> int:
        self.line = node.line
        if type(node) is Subshell:
            return self.subshell(node, tail)
        return self.with_redirs(node.redirs, lambda: self.body_of(node, tail))

    def subshell(self, node: Subshell, tail: bool) -> int:
        if tail and self.in_child:
            self.redir.apply(node.redirs, None)
            return self.execute(node.body, tail=True)
        pid = jobs.fork(self)
        if pid == 0:
            self.child(lambda: (self.redir.apply(node.redirs, None),
                                self.execute(node.body, tail=True))[1])
        self.status = jobs.wait(self, [pid])
        return self.status

    def body_of(self, node, tail: bool) -> int:
        kind = type(node)
        if kind is Group:
            return self.execute(node.body, tail)
        if kind is If:
            for cond, body in node.arms:
                if self.condition(cond) == 0:
                    return self.execute(body, tail)
            if node.orelse is not None:
                return self.execute(node.orelse, tail)
            self.status = 0
            return 0
        if kind is Case:
            return self.exec_case(node, tail)
        return self.loop(node)

    def condition(self, node) -> int:
        self.no_errexit += 1
        try:
            return self.execute(node)
        finally:
            self.no_errexit -= 1

    def exec_case(self, node: Case, tail: bool) -> int:
        word = expand.string(self, node.word)
        for patterns, body in node.arms:
            if any(match(expand.pattern(self, p), word) for p in patterns):
                self.status = 0
                return self.execute(body, tail) if body is not None else 0
        self.status = 0
        return 0

    def loop(self, node) -> int:
        """for, while, until; break and continue (Break, Continue) end an iteration
        here, or go on out (n > 1) to an enclosing loop."""
        status = 0
        items = None
        if type(node) is For:
            items = iter(self.positional if node.words is None
                         else expand.fields(self, node.words))
        self.loops += 1
        try:
            while True:
                try:
                    if items is not None:
                        value = next(items, None)
                        if value is None:
                            break
                        self.assign(node.name, value)
                    elif (self.condition(node.cond) == 0) == node.until:
                        break
                    status = self.execute(node.body)
                except Break as b:
                    if b.n > 1:
                        b.n -= 1
                        raise
                    status = self.status
                    if type(b) is Break:
                        break
        finally:
            self.loops -= 1
        self.status = status
        return status
