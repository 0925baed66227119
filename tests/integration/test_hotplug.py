"""`mk driver attach/detach`: a UART plugged into the running machine gets its driver,
works end to end, and when unplugged frees its ports and IRQ for the next card; a card
on ports another holds is refused and leaves nothing behind."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(120)


def mk(node, *args):
    return subprocess.run([sys.executable, "-m", "cli.main", *args, "--node", node.name],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MK_HOME": node.home})


def drivers(node):
    return {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}


def devices(node):
    return [d["name"] for d in node.control({"op": "status"})["devices"]]


def test_attach_use_detach_reattach(node):
    r = mk(node, "driver", "attach", "com3", "--port", "0x3e8", "--irq", "5")
    assert r.returncode == 0, r.stderr
    node.wait_for(lambda: drivers(node).get("com3", {}).get("state") == "running",
                  what="com3's driver")
    listing = mk(node, "driver", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    row = next(d for d in json.loads(listing.stdout) if d["name"] == "com3")
    assert row["ports"] == ["0x3e8-0x3ef"] and row["irq"] == 5, row
    assert row["state"] == "running" and row["pid"], row
    with node.pty("com3") as pty:
        status, out = node.run("tty_tasks.py", "reader", "com3", 0)   # writes "ready"
        assert status == 0, out
        assert b"ready" in pty.read_until(b"ready", timeout=15)
    clash = mk(node, "driver", "attach", "com4", "--port", "0x3e8", "--irq", "6")
    assert clash.returncode != 0, clash.stdout                   # com3 holds those ports
    assert "com4" not in drivers(node) and "com4" not in devices(node), clash.stderr
    assert drivers(node)["com3"]["state"] == "running"
    r = mk(node, "driver", "detach", "com3")
    assert r.returncode == 0, r.stderr
    assert "com3" not in drivers(node)
    assert "com3" not in devices(node)
    r = mk(node, "driver", "attach", "com4", "--port", "0x3e8", "--irq", "5")  # reuse
    assert r.returncode == 0, r.stderr
    node.wait_for(lambda: drivers(node).get("com4", {}).get("state") == "running",
                  what="com4 on the freed ports and IRQ")
    assert mk(node, "driver", "detach", "com4").returncode == 0
