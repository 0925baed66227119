"""The shell language on a node, as a user writing scripts meets it: /bin/sh's engine
over the personality's libc, its children real processes of the Unix server.

Each test runs `sh -c` (TestNode.sh) once or twice with a script that exercises
several features, and checks its output and status. The language itself is covered
case by case, without a node, by tests/unit/test_sh_peer.py."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(90)

SCRIPT = r"""#!/bin/sh
# counts its arguments, says how it was called
n=0
for a in "$@"; do n=$((n + 1)); done
echo "$0 got $n: $*"
exit $n
"""


def test_hash_bang_scripts_and_sh_file(node):
    cmd = ("cat > /tmp/count; chmod +x /tmp/count; /tmp/count a 'b c'; echo status $?; "
           "sh /tmp/count x; echo status $?; "
           "printf '#!/bin/nosuch\\necho no\\n' > /tmp/bad; chmod +x /tmp/bad; /tmp/bad; "
           "echo status $?")
    code, out = node.sh(cmd, stdin=SCRIPT)
    assert out.splitlines() == [
        "/tmp/count got 2: a b c", "status 2", "/tmp/count got 1: x", "status 1",
        "sh: 1: /tmp/bad: not found", "status 127"], out
    assert code == 0


def test_control_flow_functions_and_expansions(node):
    cmd = r"""
    fact() { if [ $1 -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(($1 - 1))) )); fi; }
    i=0
    while [ $i -lt 3 ]; do i=$((i + 1)); done
    until [ $i -eq 0 ]; do i=$((i - 1)); done
    for w in one two; do
      case $w in o*) echo "o-word $w";; *) echo "other $w";; esac
    done
    echo "fact 5 = $(fact 5)" `echo back`
    f=/usr/lib/libc.so.6
    echo ${f##*/} ${f%/*} ${unset:-default} ${#f}
    { echo grouped; } | wc -l
    (cd /tmp && pwd); pwd
    cd /etc; cd /; cd -
    x=outer; (x=inner); echo $x
    echo ~
    """
    code, out = node.sh(cmd)
    assert out.splitlines() == [
        "o-word one", "other two", "fact 5 = 120 back", "libc.so.6 /usr/lib default 18",
        "1", "/tmp", "/", "/etc", "outer", "/"], out
    assert code == 0


def test_here_documents_read_and_pipes(node):
    cmd = r"""
    who=world
    cat <<EOF | grep -v skip
hello $who
skip this
sum $((2 + 3))
EOF
    cat <<'EOF'
literal $who
EOF
    while read a b; do echo "[$a|$b]"; done
    """
    code, out = node.sh(cmd, stdin="x y z\nlast\n")
    assert out.splitlines() == ["hello world", "sum 5", "literal $who", "[x|y z]",
                                "[last|]"], out
    assert code == 0


def test_globbing_in_every_component(node):
    code, out = node.sh("echo /[be]*/[mp]*; echo /*/nomatch*")
    assert out.splitlines() == ["/bin/mkdir /bin/more /bin/mv /bin/printf /bin/ps /bin/pwd "
                                "/etc/motd /etc/passwd",
                                "/*/nomatch*"], out


def test_errors_are_errors(node):
    assert node.sh("echo a;; echo b") == (2, 'sh: 1: syntax error: ";;" unexpected\n')
    assert node.sh("exit abc") == (2, "sh: 1: exit: Illegal number: abc\n")
    assert node.sh("echo before\nif true; then\necho never") == \
        (2, "before\nsh: 3: syntax error: end of file unexpected (expecting \"fi\")\n")
    assert node.sh("set -e; echo one; false; echo two") == (1, "one\n")
    assert node.sh("echo ${nope?is not set}; echo after") == (2, "sh: 1: nope: is not set\n")


def test_set_x_shift_eval_dot_and_exec(node):
    cmd = r"""
    set -- a b c; shift; echo "$# $1"
    eval 'echo evaluated $1'
    echo 'dotted=yes' > /tmp/lib.sh; . /tmp/lib.sh; echo $dotted
    test -d /bin && [ -f /etc/motd ] && echo tests
    printf '%s=%03d\n' n 7
    set -x; : traced; set +x
    exec echo replaced
    echo never
    """
    code, out = node.sh(cmd)
    assert out.splitlines() == ["2 b", "evaluated b", "yes", "tests", "n=007",
                                "+ : traced", "+ set +x", "replaced"], out
    assert code == 0


def test_an_interactive_shell_reads_on_until_a_command_is_complete(node):
    with node.pty("com2") as com2:
        t = node.start("unix_tasks.py", "tty_shell", "com2")
        com2.read_until(b"$ ")
        com2.type(b"for i in 1 2\r")
        assert com2.read_until(b"> ").endswith(b"for i in 1 2\r\n> ")
        com2.type(b"do echo n$i; done\r")
        assert com2.read_until(b"$ ").endswith(b"n1\r\nn2\r\n$ ")
        com2.type(b"cat <<E\r")
        com2.read_until(b"> ")
        com2.type(b"doc $((6 * 7))\r")
        com2.read_until(b"> ")
        com2.type(b"E\r")
        assert com2.read_until(b"$ ").endswith(b"doc 42\r\n$ ")
        com2.type(b"echo a;; echo b\r")
        assert b'syntax error: ";;" unexpected' in com2.read_until(b"$ ")
        com2.type(b"exit 0\r")
        assert node.wait(t["task"], timeout=20) == 0
