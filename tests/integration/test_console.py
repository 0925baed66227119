"""`mk console` as a person uses it: in a real terminal (tmux), type on COM1 and read
what the system writes back. Keys reach the UART driver as receive interrupts; the
console monitor answers through the driver's writes."""
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]


class Tmux:
    def __init__(self, name: str):
        self.base = ["tmux", "-L", name]

    def __call__(self, *args) -> str:
        return subprocess.run(self.base + list(args), capture_output=True, text=True,
                              timeout=10).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "mk")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen()}")


def test_typing_on_the_console(node):
    tmux = Tmux(f"mktest{os.getpid()}")
    cmd = f"MK_HOME={node.home} {sys.executable} -m cli.main console"
    tmux("new-session", "-d", "-s", "mk", "-x", "100", "-y", "30", cmd)
    try:
        tmux.wait_for("Ctrl-] to leave")
        tmux("send-keys", "-t", "mk", "Enter")
        tmux.wait_for("mk>")
        tmux("send-keys", "-t", "mk", "echo typed by a person", "Enter")
        screen = tmux.wait_for("\ntyped by a person")
        assert "mk> echo typed by a person" in screen
        tmux("send-keys", "-t", "mk", "unamx", "BSpace", "e", "Enter")
        tmux.wait_for("(L4 V2 on a simulated 486)")
        irqs = {i["irq"]: i for i in node.control({"op": "irqs"})["irqs"]}
        assert irqs[4]["delivered"] > 0                   # COM1's receive interrupts
        tmux("send-keys", "-t", "mk", "C-]")
        deadline = time.monotonic() + 10
        while "mk" in tmux("list-sessions") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "mk:" not in tmux("list-sessions")
    finally:
        tmux("kill-server")
