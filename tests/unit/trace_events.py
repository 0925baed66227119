"""A checker of Chrome trace-event JSON (the format Perfetto and chrome://tracing read),
for the tests of `mk trace`: what the format requires, and what makes a timeline read
right (slices of one thread that do not cross, flows that pair and bind)."""
from __future__ import annotations

PHASES = set("XBEistfCM")


def problems(doc: dict) -> list[str]:
    """Everything wrong with `doc`; [] when it is a well-formed trace."""
    events = doc.get("traceEvents") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        return ["no traceEvents list"]
    bad: list[str] = []
    for e in events:
        bad += _fields(e)
    if bad:
        return bad
    return _names(events) + _slices(events) + _flows(events)


def _fields(e: dict) -> list[str]:
    ph = e.get("ph")
    if ph not in PHASES:
        return [f"unknown phase {ph!r}: {e}"]
    need = {"name": str, "pid": int, "tid": int}
    if ph != "M":
        need["ts"] = (int, float)
    out = [f"{k} missing or not {t}: {e}" for k, t in need.items()
           if not isinstance(e.get(k), t) or isinstance(e.get(k), bool)]
    if ph == "X" and not (isinstance(e.get("dur"), (int, float)) and e["dur"] >= 0):
        out.append(f"complete event without a duration: {e}")
    if ph in "stf" and "id" not in e:
        out.append(f"flow event without an id: {e}")
    if ph == "C" and not all(isinstance(v, (int, float)) for v in e.get("args", {}).values()):
        out.append(f"counter with a value not a number: {e}")
    if ph == "M" and e["name"] in ("process_name", "thread_name") and \
            not isinstance(e.get("args", {}).get("name"), str):
        out.append(f"name metadata without a name: {e}")
    return out


def _names(events: list) -> list[str]:
    named = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    return [f"pid {p} has no process_name" for p in {e["pid"] for e in events} - named]


def _slices(events: list) -> list[str]:
    """B/E balance per thread, and slices of one thread nested, never crossing."""
    bad, by_thread = [], {}
    for e in sorted((e for e in events if e["ph"] in "XBE"), key=lambda e: e["ts"]):
        by_thread.setdefault((e["pid"], e["tid"]), []).append(e)
    for key, evs in by_thread.items():
        stack: list[float] = []
        depth = 0
        for e in evs:
            if e["ph"] == "B":
                depth += 1
            elif e["ph"] == "E":
                depth -= 1
                if depth < 0:
                    bad.append(f"{key}: E without B at {e['ts']}")
                    depth = 0
            else:
                while stack and stack[-1] <= e["ts"]:
                    stack.pop()
                end = e["ts"] + e["dur"]
                if stack and end > stack[-1] + 1e-6:
                    bad.append(f"{key}: slice {e['name']!r} at {e['ts']} crosses its parent")
                stack.append(end)
        if depth:
            bad.append(f"{key}: {depth} B without E")
    return bad


def _flows(events: list) -> list[str]:
    """Each flow id: one s, then its t steps, then one f, in time order, each inside a
    slice of its own thread."""
    bad, flows = [], {}
    for e in events:
        if e["ph"] in "stf":
            flows.setdefault(e["id"], []).append(e)
    spans: dict = {}
    for e in events:
        if e["ph"] == "X":
            spans.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for fid, evs in flows.items():
        kinds = "".join(e["ph"] for e in sorted(evs, key=lambda e: (e["ts"], "stf".index(e["ph"]))))
        if kinds.count("s") != 1 or kinds.count("f") != 1 or kinds[0] != "s" or kinds[-1] != "f":
            bad.append(f"flow {fid}: {kinds!r} is not s, t..., f")
        for e in evs:
            if not any(a <= e["ts"] <= b for a, b in spans.get((e["pid"], e["tid"]), ())):
                bad.append(f"flow {fid}: {e['ph']} at {e['ts']} is in no slice of its thread")
    return bad
