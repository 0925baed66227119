"""The tty's line discipline as a terminal user meets it, byte by byte: cursor keys,
history, a line cut at MAX_CANON, ^C dropping the line and what was typed ahead."""
import signal

from servers.lineedit import MAX_CANON, LineEditor
from servers.tty import Line

UP, DOWN, RIGHT, LEFT = b"\x1b[A", b"\x1b[B", b"\x1b[C", b"\x1b[D"
HOME, END, DEL = b"\x1bOH", b"\x1b[F", b"\x1b[3~"


def typed(line: Line, *keys: bytes) -> tuple[list[bytes], bytes]:
    """Feed the keys; (the completed lines, the echo)."""
    echo = b"".join(line.feed(k)[0] for k in keys)
    done = list(line.ready)
    line.ready.clear()
    return done, echo


def screen(echo: bytes) -> str:
    """What a terminal shows for echo bytes of one line (BS moves left, no wrap)."""
    cells, x = [], 0
    for b in echo:
        if b == 8:
            x = max(0, x - 1)
        elif b in (13, 10):
            cells, x = [], 0
        elif b >= 32:
            cells[x:x + 1] = [chr(b)]
            x += 1
    return "".join(cells).rstrip()


def test_cursor_keys_edit_in_the_middle_and_escapes_are_never_text():
    line = Line("com2", None)
    done, _ = typed(line, b"echo wrld", LEFT * 3, b"o", END, b"!", HOME, DEL, b"E", b"\r")
    assert done == [b"Echo world!\n"]
    assert screen(b"".join(line.feed(k)[0] for k in (b"echo wrld", LEFT * 3, b"o"))) == "echo world"
    line.feed(b"\x15")
    done, echo = typed(line, b"ls /bx", b"\x7f", b"in", LEFT * 2, b"\x7f", RIGHT,
                       b"\x1b[1;5C", b"\x1b[15~", b"\r")
    assert done == [b"ls /in\n"]              # backspace mid-line; unknown keys: nothing
    assert b"[" not in echo


def test_history_up_and_down_and_the_draft_comes_back():
    line = Line("com2", None)
    typed(line, b"echo one\r", b"echo two\r", b"  \r")
    done, echo = typed(line, b"dra", UP, UP, b"X", b"\r")
    assert done == [b"echo oneX\n"]
    assert screen(echo.rsplit(b"\r\n", 1)[0]) == "echo oneX"
    done, _ = typed(line, b"new", UP, UP, DOWN, DOWN, b"!\r")
    assert done == [b"new!\n"]
    done, echo = typed(line, UP, b"\r")
    assert done == [b"new!\n"]


def test_a_line_is_cut_at_max_canon_never_split():
    line = Line("com2", None)
    done, echo = typed(line, b"x" * 5000 + b"\r")
    assert done == [b"x" * (MAX_CANON - 1) + b"\n"]
    assert b"\a" in echo


def test_ctrl_c_drops_the_line_and_the_typed_ahead_ones():
    line = Line("com2", None)
    line.pgrp = 5
    line.feed(b"sleep 1\recho ahead\r")
    assert len(line.ready) == 2
    echo, sigs = line.feed(b"half\x03")
    assert sigs == [int(signal.SIGINT)] and not line.ready and not line.edit.buf
    ed = LineEditor()
    ed.key(ord("a")), ed.enter()
    ed.forget()
    assert not ed.history
