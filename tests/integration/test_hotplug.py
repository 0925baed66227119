"""`mk driver attach/detach`: a UART plugged into the running machine gets its driver,
works end to end, and when unplugged frees its ports and IRQ for the next card."""
import os
import select
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.timeout(120)


def mk(node, *args):
    return subprocess.run([sys.executable, "-m", "cli.main", *args, "--node", node.name],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MK_HOME": node.home})


def drivers(node):
    return {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}


def test_attach_use_detach_reattach(node):
    r = mk(node, "driver", "attach", "com3", "--port", "0x3e8", "--irq", "5")
    assert r.returncode == 0, r.stderr
    node.wait_for(lambda: drivers(node).get("com3", {}).get("state") == "running",
                  what="com3's driver")
    listing = mk(node, "driver", "list")
    row = next(ln for ln in listing.stdout.splitlines() if ln.startswith("com3"))
    assert "0x3e8-0x3ef" in row and " 5 " in row and "running" in row
    with open(node.path("com3.pty")) as f:
        fd = os.open(f.read().strip(), os.O_RDWR | os.O_NOCTTY)
    try:
        status, out = node.run("tty_tasks.py", "reader", "com3", 0)   # writes "ready"
        assert status == 0, out
        got, deadline = b"", time.monotonic() + 15
        while b"ready" not in got and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                got += os.read(fd, 100)
        assert b"ready" in got
    finally:
        os.close(fd)
    clash = mk(node, "driver", "attach", "com4", "--port", "0x3e8", "--irq", "6")
    assert clash.returncode != 0 and "already" in clash.stderr
    r = mk(node, "driver", "detach", "com3")
    assert r.returncode == 0, r.stderr
    assert "com3" not in drivers(node)
    assert "com3" not in [d["name"] for d in node.control({"op": "status"})["devices"]]
    r = mk(node, "driver", "attach", "com4", "--port", "0x3e8", "--irq", "5")  # reuse
    assert r.returncode == 0, r.stderr
    node.wait_for(lambda: drivers(node).get("com4", {}).get("state") == "running",
                  what="com4 on the freed ports and IRQ")
    assert mk(node, "driver", "detach", "com4").returncode == 0
