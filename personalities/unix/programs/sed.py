#!mk
"""sed [-nE] [-e SCRIPT]... [SCRIPT] [FILE...]: edit a stream, line by line.

Commands, separated by `;` or newlines, each with at most two addresses (a line
number, `$`, or /REGEX/; `A1,A2` a range; `!` after them negates): s/RE/REPL/[gpN]
(any delimiter; & and \\1-\\9 in REPL), y/SRC/DST/, p, d, q, =, and { } blocks.
-n: no automatic printing; -E: extended expressions (else basic ones, as POSIX's:
\\( \\) \\{ \\} \\+ \\? \\|).
"""
import re

from personalities.unix.progargs import Inputs, bre, fail, options, out, usage_error

__all__ = ["main"]

USAGE = "sed [-nE] [-e SCRIPT]... [SCRIPT] [FILE...]"


def main(argv, envp):
    opts, args = options("sed", argv[1:], "nEre:", USAGE, many="e")
    scripts = opts["e"] or args[:1]
    if not scripts:
        usage_error("sed", USAGE, "no script")
    ere = "E" in opts or "r" in opts
    try:
        prog, _ = parse("\n".join(scripts), ere)
    except ValueError as e:
        fail("sed", f"-e expression: {e}")
        return 1
    inputs = Inputs("sed", args[0 if opts["e"] else 1:])
    lines = list(inputs.lines())
    out(run(prog, lines, "n" not in opts))
    return 2 if inputs.status else 0


def parse(text: str, ere: bool, i: int = 0, block: bool = False) -> tuple[list, int]:
    """([[addr1, addr2, negate, cmd, arg, in_range]...], where it ended) of a script
    (of a { } block); ValueError when bad."""
    prog = []
    while i < len(text):
        if text[i] in " \t\n;":
            i += 1
            continue
        if text[i] == "}" and block:
            return prog, i + 1
        a1, i = _address(text, i, ere)
        a2 = None
        if a1 is not None and text[i:i + 1] == ",":
            a2, i = _address(text, i + 1, ere)
            if a2 is None:
                raise ValueError("unexpected ','")
        neg = text[i:i + 1] == "!"
        i += neg
        while text[i:i + 1] == " ":
            i += 1
        if i >= len(text):
            raise ValueError("missing command")
        cmd, i = text[i], i + 1
        if cmd == "s":
            arg, i = _substitution(text, i, ere)
        elif cmd == "y":
            arg, i = _transliteration(text, i)
        elif cmd == "{":
            arg, i = parse(text, ere, i, True)
        elif cmd in "pdq=":
            arg = None
        else:
            raise ValueError(f"unknown command: '{cmd}'")
        prog.append([a1, a2, neg, cmd, arg, False])
    if block:
        raise ValueError("unmatched `{'")
    return prog, i


def _transliteration(text, i):
    if i >= len(text):
        raise ValueError("unterminated `y' command")
    d = text[i]
    src, i = _until(text, i + 1, d)
    dst, i = _until(text, i, d)
    if len(src) != len(dst):
        raise ValueError("strings for `y' command are different lengths")
    return str.maketrans(src, dst), i


def _address(text, i, ere):
    m = re.match(r"\d+|\$", text[i:])
    if m:
        return (int(m.group(0)) if m.group(0) != "$" else "$"), i + m.end()
    if text[i:i + 1] == "/":
        rx, i = _until(text, i + 1, "/")
        return re.compile(bre(rx, ere)), i
    return None, i


def _until(text, i, delim):
    """(the text up to an unescaped `delim`, the index after it)."""
    j = i
    while j < len(text) and text[j] != delim:
        j += 2 if text[j] == "\\" else 1
    if j >= len(text):
        raise ValueError(f"unterminated `{delim}'")
    return text[i:j].replace("\\" + delim, delim) if delim != "\\" else text[i:j], j + 1


def _substitution(text, i, ere):
    if i >= len(text):
        raise ValueError("unterminated `s' command")
    d = text[i]
    rx, i = _until(text, i + 1, d)
    repl, i = _until(text, i, d)
    m = re.match(r"[gp0-9]*", text[i:])
    flags = m.group(0)
    try:
        return (re.compile(bre(rx, ere)), repl, flags), i + m.end()
    except re.error as e:
        raise ValueError(str(e)) from None


def _replace(repl: str):
    """A function of a match giving REPL with & and \\N done."""
    def fn(m):
        out, i = [], 0
        while i < len(repl):
            c = repl[i]
            if c == "\\" and i + 1 < len(repl):
                n = repl[i + 1]
                out.append(m.group(int(n)) or "" if n.isdigit() else "\n" if n == "n" else n)
                i += 2
            else:
                out.append(m.group(0) if c == "&" else c)
                i += 1
        return "".join(out)
    return fn


def run(prog, lines, autoprint) -> str:
    """The output of the script over `lines`."""
    out = []
    for no, line in enumerate(lines, 1):
        ctx = [no, len(lines), line]
        action = execute(prog, ctx, out)
        if autoprint and action != "d":
            out.append(ctx[2])
        if action == "q":
            break
    return "".join(x + "\n" for x in out)


def execute(prog, ctx, out):
    """Run the commands on the line in ctx ([number, last number, text]); "d" or "q"
    when the cycle ends early."""
    for cmd in prog:
        if _selected(cmd, ctx) == cmd[2]:
            continue
        op, arg = cmd[3], cmd[4]
        if op == "p":
            out.append(ctx[2])
        elif op == "=":
            out.append(str(ctx[0]))
        elif op in "dq":
            return op
        elif op == "y":
            ctx[2] = ctx[2].translate(arg)
        elif op == "{":
            action = execute(arg, ctx, out)
            if action:
                return action
        else:
            rx, repl, flags = arg
            nth = int("".join(c for c in flags if c.isdigit()) or 0)
            ctx[2], n = (_nth(rx, repl, ctx[2], nth) if nth else
                         rx.subn(_replace(repl), ctx[2], count=0 if "g" in flags else 1))
            if n and "p" in flags:
                out.append(ctx[2])
    return None


def _nth(rx, repl, line, nth):
    ms = list(rx.finditer(line))
    if len(ms) < nth:
        return line, 0
    m = ms[nth - 1]
    return line[:m.start()] + _replace(repl)(m) + line[m.end():], 1


def _selected(cmd, ctx) -> bool:
    """Does the command's address select the line? (a range remembers in cmd[5])"""
    a1, a2 = cmd[0], cmd[1]
    no, last, line = ctx

    def hit(a):
        return no == last if a == "$" else (no == a if isinstance(a, int) else
                                            bool(a.search(line)))
    if a1 is None:
        return True
    if a2 is None:
        return hit(a1)
    if cmd[5]:
        if hit(a2) or (isinstance(a2, int) and no >= a2):
            cmd[5] = False
        return True
    if hit(a1):
        cmd[5] = not (isinstance(a2, int) and a2 <= no)
        return True
    return False
