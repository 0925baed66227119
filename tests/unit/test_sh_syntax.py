"""The shell's lexer and parser (personalities/unix/sh): tokens, words and their
parts, the POSIX grammar's commands, here-documents, and syntax errors with their
line numbers. No process runs."""
import pytest

from personalities.unix.sh.ast import (DQ, AndOr, Arith, Case, CmdSub, For, FuncDef, Group,
                                       If, List, Lit, Param, Pipeline, Quoted, Simple,
                                       Subshell, While)
from personalities.unix.sh.errors import Incomplete, SyntaxErr
from personalities.unix.sh.lexer import Lexer
from personalities.unix.sh.parser import Parser, parse


def tokens(text):
    lx, out = Lexer(text), []
    while (t := lx.next()).kind != "eof":
        out.append((t.kind, t.value.text if t.kind == "word" else t.value))
    return out


def only(text):
    """The one command of `text` (a one-item list of a one-command pipeline)."""
    [(andor, bg)] = parse(text).items
    assert not bg and not andor.rest
    [cmd] = andor.first.cmds
    return cmd


def words(cmd):
    return [w.text for w in cmd.words]


def test_operators_words_and_io_numbers():
    assert tokens("a&&b||c;;d 2>&1 <<-E") == [
        ("word", "a"), ("op", "&&"), ("word", "b"), ("op", "||"), ("word", "c"),
        ("op", ";;"), ("word", "d"), ("io", 2), ("op", ">&"), ("word", "1"),
        ("op", "<<-"), ("word", "E")]
    assert tokens("a2>f x>|y") == [("word", "a2"), ("op", ">"), ("word", "f"),
                                   ("word", "x"), ("op", ">|"), ("word", "y")]


def test_comments_and_continuations():
    assert tokens("echo a#b # gone\\\nx \\\n y") == [
        ("word", "echo"), ("word", "a#b"), ("newline", None), ("word", "x"), ("word", "y")]


def test_word_parts():
    w = only("""echo 'a $x' "b $x c" d\\ e ${Y}z $? $""").words
    assert w[1].parts == [Quoted("a $x")]
    assert w[2].parts == [DQ([Lit("b "), Param("x"), Lit(" c")])]
    assert w[3].parts == [Lit("d"), Quoted(" "), Lit("e")]
    assert w[4].parts == [Param("Y"), Lit("z")]
    assert w[5].parts == [Param("?")]
    assert w[6].parts == [Lit("$")]


def test_parameter_operators():
    w = only("echo ${a:-x y} ${b=1} ${c?} ${d:+v} ${#e} ${f##*/} ${g%.c} ${10}").words
    got = [(p.name, p.op, p.colon, p.arg.text if p.arg else None)
           for p in (x.parts[0] for x in w[1:])]
    assert got == [("a", "-", True, "x y"), ("b", "=", False, "1"), ("c", "?", False, ""),
                   ("d", "+", True, "v"), ("e", "#len", False, None),
                   ("f", "##", False, "*/"), ("g", "%", False, ".c"), ("10", "", False, None)]


def test_command_substitution_and_arithmetic_parts():
    w = only("echo $(case x in x) echo ')';; esac) `echo \\`b\\`` $((1 + $n))").words
    assert isinstance(w[1].parts[0], CmdSub)
    assert isinstance(w[1].parts[0].body.items[0][0].first.cmds[0], Case)
    inner = w[2].parts[0].body.items[0][0].first.cmds[0]
    assert isinstance(inner.words[1].parts[0], CmdSub)
    assert w[3].parts == [Arith(w[3].parts[0].expr)]
    assert w[3].parts[0].expr.parts == [Lit("1 + "), Param("n")]


def test_lists_and_or_pipelines_and_background():
    lst = parse("a | b c && ! d || e; f &")
    (ao1, bg1), (ao2, bg2) = lst.items
    assert not bg1 and bg2
    assert [words(c) for c in ao1.first.cmds] == [["a"], ["b", "c"]]
    assert [(op, p.negate) for op, p in ao1.rest] == [("&&", True), ("||", False)]
    assert isinstance(ao2, AndOr) and isinstance(ao2.first, Pipeline)


def test_assignments_and_redirections():
    cmd = only("A=1 B='x y' env >out 2>>err <in 3<&0 4>&- <>rw")
    assert [n for n, _ in cmd.assigns] == ["A", "B"] and words(cmd) == ["env"]
    assert [(r.fd, r.op, r.target.text) for r in cmd.redirs] == [
        (1, ">", "out"), (2, ">>", "err"), (0, "<", "in"), (3, "<&", "0"), (4, ">&", "-"),
        (0, "<>", "rw")]
    assert only("echo A=1").assigns == [] and words(only("1x=2")) == ["1x=2"]


def test_compound_commands():
    cmd = only("if a; then b; elif c; then d; else e; fi")
    assert isinstance(cmd, If) and len(cmd.arms) == 2 and cmd.orelse is not None
    loop = only("while a\ndo b\ndone >log")
    assert isinstance(loop, While) and not loop.until and loop.redirs[0].op == ">"
    assert only("until a; do b; done").until
    f = only("for i in 1 2; do echo $i; done")
    assert isinstance(f, For) and [w.text for w in f.words] == ["1", "2"]
    assert only("for i do :; done").words is None
    assert isinstance(only("{ a; b; }"), Group) and isinstance(only("(a; b)"), Subshell)
    case = only("case $x in (a|b) one;; c) ;; *) two\nesac")
    assert isinstance(case, Case)
    assert [[p.text for p in pats] for pats, _ in case.arms] == [["a", "b"], ["c"], ["*"]]
    assert case.arms[1][1] is None


def test_function_definitions():
    f = only("f() { echo hi; }")
    assert isinstance(f, FuncDef) and f.name == "f" and isinstance(f.body, Group)
    g = only("g()\n(echo sub) 2>/dev/null")
    assert isinstance(g.body, Subshell) and g.body.redirs[0].fd == 2


def test_reserved_words_only_where_a_command_begins():
    assert words(only("echo if then fi")) == ["echo", "if", "then", "fi"]
    assert words(only("'if' x")) == ["'if'", "x"]


def test_here_documents():
    cmd = only("cat <<EOF\nhi $x\n$(echo y)\nEOF")
    body = cmd.redirs[0].target
    assert body.parts[0] == Lit("hi ") and body.parts[1] == Param("x")
    assert isinstance(body.parts[3], CmdSub)
    q = only("cat <<'E'\n$x \\$\nE").redirs[0]
    assert q.quoted and q.target.parts == [Quoted("$x \\$\n")]
    tabs = only("cat <<-E\n\t\tindented\n\tE").redirs[0]
    assert tabs.target.parts == [Lit("indented\n")]
    two = parse("a <<A; b <<B\n1\nA\n2\nB\nc").items
    assert [ao.first.cmds[0].redirs[0].target.text for ao, _ in two[:2]] == ["1\n", "2\n"]
    assert two[2][0].first.cmds[0].line == 6


def test_next_command_gives_one_line_at_a_time():
    p = Parser("echo a\nif x; then\ny\nfi\n\necho b; echo c\n")
    cmds = []
    while (c := p.next_command()) is not None:
        cmds.append(c)
    assert [len(c.items) for c in cmds] == [1, 1, 2]
    assert [c.line for c in cmds] == [1, 2, 6]


@pytest.mark.parametrize("bad, line, text", [
    ("echo a;; echo b", 1, 'syntax error: ";;" unexpected'),
    ("a |", 1, "syntax error: end of file unexpected"),
    ("&& b", 1, 'syntax error: "&&" unexpected'),
    ("x\nif a; then b", 2, 'syntax error: end of file unexpected (expecting "fi")'),
    ("for - in a; do b; done", 1, 'syntax error: "-" unexpected'),
    ("echo ${a b}", 1, "bad substitution"),
    ("{echo a; }", 1, 'syntax error: "}" unexpected'),
    ("echo a (b)", 1, 'syntax error: "(" unexpected'),
    ("cat <", 1, "syntax error: end of file unexpected"),
    ("fi", 1, 'syntax error: "fi" unexpected'),
    ("f() echo", 1, "syntax error: a function body must be a compound command"),
])
def test_syntax_errors_say_where_and_what(bad, line, text):
    with pytest.raises(SyntaxErr) as e:
        parse(bad)
    assert (e.value.line, e.value.text) == (line, text)


@pytest.mark.parametrize("partial", ["echo 'open", 'echo "open', "if a; then", "a &&",
                                     "echo $(a", "echo `a", "case x in",
                                     "while a; do", "f() {"])
def test_input_that_ended_early_is_incomplete(partial):
    with pytest.raises(Incomplete):
        Parser(partial).parse_all()


def test_a_here_document_may_end_with_the_text():
    p = Parser("cat <<E\nbody")
    assert p.parse_all().items[0][0].first.cmds[0].redirs[0].target.text == "body\n"
    assert p.lx.unterminated                  # an interactive shell reads on


def test_an_empty_script_is_an_empty_list():
    assert parse("\n# nothing\n\n") == List([], 1)
    assert isinstance(only("x=1"), Simple)
