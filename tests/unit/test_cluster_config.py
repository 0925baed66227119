"""A cluster described in TOML (cluster/config.py): what a good file gives, and one
ClusterError line, naming the file and the node, for each kind of mistake."""
import pytest

from cluster import ClusterError
from cluster.config import DriverSpec, NodeSpec, load, numbered

GOOD = """
[switch]
listen = "tcp://127.0.0.1:7700"
pcap = true

[[node]]
name = "a"
mem = 8
disk = "a.img"
drivers = [{ name = "com3", port = 0x3e8, irq = 5 }]

[[node]]
name = "b"
site = 7
"""


def write(tmp_path, text: str, image: bool = True):
    if image:
        (tmp_path / "a.img").write_bytes(b"")
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return str(path)


def test_a_good_file(tmp_path):
    spec = load(write(tmp_path, GOOD))
    assert spec.listen == "tcp://127.0.0.1:7700" and spec.pcap
    assert spec.nodes == (
        NodeSpec("a", 1, 8, str(tmp_path / "a.img"), (DriverSpec("com3", 0x3E8, 5),)),
        NodeSpec("b", 7))


def test_numbered_nodes():
    assert [(n.name, n.site) for n in numbered(3).nodes] == [("n1", 1), ("n2", 2), ("n3", 3)]
    for bad in (0, 65):
        with pytest.raises(ClusterError, match="--nodes is 1..64"):
            numbered(bad)


@pytest.mark.parametrize("text,says", [
    ("[[node]\nname = 'a'", "is not valid TOML"),
    ("", "no [[node]]"),
    ("[[node]]\nsite = 1", "node 1: a node needs a name"),
    ("[[node]]\nname = 'a'\nmemory = 8", "node 1: unknown key 'memory'"),
    ("[[node]]\nname = 'a'\nmem = '8'", "node 1: mem is int, not '8'"),
    ("[[node]]\nname = 'a'\nmem = 512", "node a: mem is 1..256 MiB, not 512"),
    ("[[node]]\nname = 'a/b'", "bad node name 'a/b'"),
    ("[[node]]\nname = 'switch'", "bad node name 'switch'"),
    ("[[node]]\nname = 'a'\nsite = 0", "node a: site is 1..65535, not 0"),
    ("[[node]]\nname = 'a'\nsite = true", "site is int, not True"),
    ("[[node]]\nname = 'a'\ndisk = 'none.img'", "node a: no disk image"),
    ("[[node]]\nname = 'a'\n[[node]]\nname = 'a'\nsite = 2", "nodes a and a have the same name"),
    ("[[node]]\nname = 'a'\nsite = 2\n[[node]]\nname = 'b'", "nodes a and b have the same site 2"),
    ("[[node]]\nname = 'a'\ndrivers = ['com3']", "a driver is { name, port, irq }"),
    ("[[node]]\nname = 'a'\ndrivers = [{name = 'com3', port = 0x3e8}]", "needs name, port and irq"),
    ("[[node]]\nname = 'a'\ndrivers = [{name = 'lpt1', port = 0x378, irq = 7}]", "comN, ataN or netN"),
    ("[[node]]\nname = 'a'\ndrivers = [{name = 'com3', port = 0x3e8, irq = 2}]", "not 2"),
    ("[switch]\nlisten = 'ipc:///tmp/x'\n[[node]]\nname = 'a'", "listen is tcp://HOST:PORT"),
    ("[switch]\nport = 1\n[[node]]\nname = 'a'", "[switch]: unknown key 'port'"),
    ("nodes = 1", "unknown key 'nodes'"),
])
def test_each_mistake_is_one_line_naming_it(tmp_path, text, says):
    path = write(tmp_path, text, image=False)
    with pytest.raises(ClusterError) as e:
        load(path)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith(path)


def test_a_missing_file(tmp_path):
    with pytest.raises(ClusterError, match="cannot read .*: No such file"):
        load(str(tmp_path / "nope.toml"))
