"""The tty's line editor: canonical mode's edit buffer, with a cursor and a history.

A line is edited where it is typed, in the line discipline, as QNX's character
drivers and VMS's terminal driver do, so every program that reads a line (the shell,
`cat`, `read`) gets the same editing without putting the terminal in raw mode, and ^C,
^\\ and ^Z stay the discipline's signals. Keys (a VT100's, as xterm and tmux send
them; ESC [ and ESC O forms both):

    Left, Right, ^B, ^F        move the cursor         Home, ^A / End, ^E   to an end
    Backspace (DEL, ^H)        erase before the cursor Delete (ESC [ 3 ~)   erase under it
    Up, ^P / Down, ^N          the previous / next line of this line's history
    ^U                         erase the line          ^K                   erase to its end

Other escape sequences are swallowed, never inserted. A line holds at most MAX_CANON
bytes with its newline (POSIX's {MAX_CANON}, Linux's 4096): what is typed past that is
dropped with a bell, so a long line is cut, never split into two. Echo redraws with
backspaces and spaces only, so it assumes the line fits the terminal's width.
"""
from __future__ import annotations

__all__ = ["LineEditor", "MAX_CANON", "HISTORY"]

MAX_CANON = 4096
HISTORY = 100                    # lines remembered per tty line
ESC, BELL = 27, b"\a"
SEQUENCES = {b"[A": "up", b"OA": "up", b"[B": "down", b"OB": "down",
             b"[C": "right", b"OC": "right", b"[D": "left", b"OD": "left",
             b"[H": "home", b"OH": "home", b"[1~": "home", b"[7~": "home",
             b"[F": "end", b"OF": "end", b"[4~": "end", b"[8~": "end", b"[3~": "delete"}
CONTROLS = {1: "home", 5: "end", 2: "left", 6: "right", 16: "up", 14: "down",
            8: "backspace", 127: "backspace", 21: "kill_line", 11: "kill_end"}


class LineEditor:
    """The line being typed (`buf`, cursor `cur`), the lines entered before, and an
    escape sequence under way. Each method returns the bytes to echo."""

    def __init__(self):
        self.buf = bytearray()
        self.cur = 0
        self.history: list[bytes] = []
        self.browsing = 0              # how far back in the history (0: the new line)
        self.draft = b""               # the new line while browsing
        self.esc: bytearray | None = None

    def key(self, b: int) -> bytes:
        """One typed byte that is not a line end, EOF or a signal."""
        if self.esc is not None:
            return self._escape(b)
        if b == ESC:
            self.esc = bytearray()
            return b""
        if b in CONTROLS:
            return getattr(self, CONTROLS[b])()
        if b >= 32 or b == 9:
            return self.insert(b)
        return b""

    def enter(self) -> bytes:
        """The line is complete: it (without a newline), remembered, and a fresh one."""
        line = bytes(self.buf)
        if line.strip() and (not self.history or self.history[-1] != line):
            self.history = (self.history + [line])[-HISTORY:]
        self.reset()
        return line

    def reset(self) -> None:
        """Drop the line being typed (^C, ^D, a hang-up)."""
        self.buf.clear()
        self.cur = self.browsing = 0
        self.draft = b""
        self.esc = None

    def forget(self) -> None:
        """A new session: no line, no history."""
        self.reset()
        self.history.clear()

    # -- the keys ---------------------------------------------------------------------

    def _escape(self, b: int) -> bytes:
        self.esc.append(b)
        seq = bytes(self.esc)
        if seq[:1] not in (b"[", b"O") or len(seq) > 8:
            self.esc = None                       # ESC and another key: nothing
            return b""
        if len(seq) == 1 or (seq[:1] == b"[" and not 0x40 <= b <= 0x7E):
            return b""                            # more of it to come
        self.esc = None
        action = SEQUENCES.get(seq)
        return getattr(self, action)() if action else b""

    def insert(self, b: int) -> bytes:
        if len(self.buf) >= MAX_CANON - 1:        # room for the newline
            return BELL
        self.buf.insert(self.cur, b)
        self.cur += 1
        return self._tail(self.cur - 1, 0)

    def backspace(self) -> bytes:
        if not self.cur:
            return b""
        self.cur -= 1
        del self.buf[self.cur]
        return b"\b" + self._tail(self.cur, 1)

    def delete(self) -> bytes:
        if self.cur == len(self.buf):
            return b""
        del self.buf[self.cur]
        return self._tail(self.cur, 1)

    def left(self) -> bytes:
        if not self.cur:
            return b""
        self.cur -= 1
        return b"\b"

    def right(self) -> bytes:
        if self.cur == len(self.buf):
            return b""
        self.cur += 1
        return bytes(self.buf[self.cur - 1:self.cur])

    def home(self) -> bytes:
        back, self.cur = self.cur, 0
        return b"\b" * back

    def end(self) -> bytes:
        rest, self.cur = bytes(self.buf[self.cur:]), len(self.buf)
        return rest

    def kill_line(self) -> bytes:
        return self._replace(b"")

    def kill_end(self) -> bytes:
        gone = len(self.buf) - self.cur
        del self.buf[self.cur:]
        return b" " * gone + b"\b" * gone

    def up(self) -> bytes:
        if self.browsing == len(self.history):
            return BELL
        if not self.browsing:
            self.draft = bytes(self.buf)
        self.browsing += 1
        return self._replace(self.history[-self.browsing])

    def down(self) -> bytes:
        if not self.browsing:
            return BELL
        self.browsing -= 1
        return self._replace(self.history[-self.browsing] if self.browsing else self.draft)

    # -- echo -------------------------------------------------------------------------

    def _tail(self, start: int, erased: int) -> bytes:
        """Redraw from `start` to the end (and blank `erased` cells after it), then put
        the cursor back where it is."""
        rest = bytes(self.buf[start:])
        back = len(rest) + erased - (self.cur - start)
        return rest + b" " * erased + b"\b" * back

    def _replace(self, line: bytes) -> bytes:
        """Show `line` instead of the one typed; the cursor at its end."""
        old = len(self.buf)
        out = b"\b" * self.cur + line
        if old > len(line):
            out += b" " * (old - len(line)) + b"\b" * (old - len(line))
        self.buf[:] = line
        self.cur = len(line)
        return out
