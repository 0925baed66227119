"""`mk console` as a person uses it: in a real terminal (tmux), type on COM1 and read
what the system writes back. Keys reach the UART driver as receive interrupts; the
console monitor answers through the driver's writes."""
import os
import shutil
import subprocess
import sys

import pytest

from microkernel.user.testing import wait_until

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
        """The screen once `text` is on it (AssertionError with the screen if not)."""
        try:
            return wait_until(lambda: (lambda s: s if text in s else None)(self.screen()),
                              timeout, f"{text!r} on the screen")
        except AssertionError as e:
            raise AssertionError(f"{e}; screen:\n{self.screen()}") from None


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
        wait_until(lambda: "mk:" not in tmux("list-sessions"), 10, "`mk console` to leave")
    finally:
        tmux("kill-server")
