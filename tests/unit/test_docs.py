"""The docs say what the code does: docs/kernel.md's operation table is `abi.Op`, its
IPC layouts are `abi.IpcRequest` and `abi.Delivery`, and docs/dependencies.md names
every dependency pyproject.toml declares."""
import pathlib
import re
import tomllib

from microkernel.abi import Delivery, IpcRequest, Op

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNEL_MD = (ROOT / "docs" / "kernel.md").read_text()


def _operation_table(text: str) -> list[tuple[int, str]]:
    """(number, name) of each row of the table whose header is `| op | name | what |`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if re.fullmatch(r"\|\s*op\s*\|\s*name\s*\|\s*what\s*\|", line.strip()))
    rows = []
    for line in lines[start + 2:]:                    # past the header and its rule
        if not line.startswith("|"):
            break
        number, name = (cell.strip() for cell in line.strip("|").split("|")[:2])
        rows.append((int(number), name))
    return rows


def test_the_operation_table_is_the_op_enum():
    rows = _operation_table(KERNEL_MD)
    assert rows == sorted(rows), "the table is in number order"
    assert rows == [(int(op), op.name) for op in sorted(Op)]


def test_the_ipc_layouts_are_the_abis():
    for word, layout, first in (("request", IpcRequest, "IPC"), ("delivery", Delivery, None)):
        m = re.search(rf"^- {word} `\[([^\]]*)\]`", KERNEL_MD, re.M)
        assert m, f"docs/kernel.md lists no {word} layout"
        names = [n.strip() for n in m.group(1).split(",")]
        expected = list(layout._fields)
        if first is not None:
            expected[0] = first                          # the op, written as its name
        assert names == expected


def test_every_declared_dependency_is_explained():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [re.split(r"[<>=!~ \[]", d, maxsplit=1)[0]
                for d in project["dependencies"] + sum(project["optional-dependencies"].values(), [])]
    text = (ROOT / "docs" / "dependencies.md").read_text()
    listed = re.findall(r"^\| `([^`]+)` \|", text, re.M)
    assert sorted(listed) == sorted(declared)
