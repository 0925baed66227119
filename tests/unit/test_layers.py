"""Imports point down only (DESIGN §2): cli → personalities → servers/drivers →
protocols → microkernel.user/abi (servers and drivers are peers: neither imports the
other, the clients of both are in protocols); microkernel.kernel → hw; hw imports nothing of the project, and
nothing above the kernel imports microkernel.kernel. The cluster's switch (cluster/) is
beside the nodes: it imports hw (the cable's frame and pcap helpers) and nothing above;
cli imports it."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROJECT = ("hw", "microkernel", "protocols", "servers", "drivers", "personalities", "cluster",
           "cli", "bench")

# package prefix -> the project packages it may import
ALLOWED = {
    "hw": ("hw",),
    "microkernel": ("microkernel.abi",),
    "microkernel.abi": ("microkernel.abi",),
    "microkernel.kernel": ("microkernel.kernel", "microkernel.abi", "hw"),
    "microkernel.user": ("microkernel.user", "microkernel.abi", "hw.mmu", "hw.memory",
                         "hw.device"),
    "protocols": ("protocols", "microkernel.abi"),
    "servers": ("servers", "protocols", "microkernel.user", "microkernel.abi"),
    "drivers": ("drivers", "protocols", "microkernel.user", "microkernel.abi"),
    "personalities": ("personalities", "servers", "protocols", "microkernel.user",
                      "microkernel.abi"),
    "cluster": ("cluster", "hw"),
    "cli": ("cli", "cluster", "personalities", "servers", "drivers", "protocols",
            "microkernel.user", "microkernel.abi", "hw", "bench"),
    "bench": PROJECT,
}


def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _imports(path: pathlib.Path):
    mod = _module(path)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".")[: -node.level] if path.name != "__init__.py" else \
                    mod.split(".")[: len(mod.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            elif node.module:
                yield node.module


def _rule(mod: str):
    best = max((p for p in ALLOWED if mod == p or mod.startswith(p + ".")), key=len)
    return ALLOWED[best]


def test_imports_point_down():
    bad = []
    for top in PROJECT:
        for path in (ROOT / top).rglob("*.py"):
            mod = _module(path)
            allowed = _rule(mod)
            for imp in _imports(path):
                if imp.split(".")[0] not in PROJECT:
                    continue
                if not any(imp == a or imp.startswith(a + ".") for a in allowed):
                    bad.append(f"{mod} imports {imp}")
    assert not bad, "\n".join(bad)


def test_the_rule_catches_a_violation(tmp_path):
    assert not any(
        "microkernel.kernel" == a for a in _rule("servers.fs"))
    assert _rule("hw.mmu") == ("hw",)
    assert _rule("cluster.switch") == ("cluster", "hw")
