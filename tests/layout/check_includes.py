#!/usr/bin/env python3
"""The rooms of ae include only rooms below their own (docs/architecture.md).

    kernels  <-  core  <-  data, models  <-  train  <-  analysis  <-  run  <-  tools, python

Rooms on one floor (data and models; tools and python) do not include each other. Every quoted
include names its room: `#include "data/csv.h"`, never a path relative to the including file.
Tests and benchmarks may include any room. One header sits below every room, kernels/ included:
core/error.h (ae::Error, AE_CHECK), which includes only the standard library.

Usage: check_includes.py [ROOT]      prints one line per offending include; exit 1 if any
       check_includes.py --self-test  checks that a tree with violations is caught
"""
import pathlib
import re
import sys
import tempfile

FLOORS = [["kernels"], ["core"], ["data", "models"], ["train"], ["analysis"], ["run"],
          ["tools", "python"]]
FLOOR = {room: level for level, rooms in enumerate(FLOORS) for room in rooms}
SOURCES = {".h", ".cpp", ".cu", ".cuh"}
BELOW_ALL = {"core/error.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def violations(root):
    root = pathlib.Path(root)
    found = []
    for room in FLOOR:
        for path in sorted((root / room).rglob("*")):
            if path.suffix not in SOURCES or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for line_no, line in enumerate(text.splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                where = f"{path.relative_to(root)}:{line_no}"
                other = target.split("/", 1)[0]
                if "/" not in target or other not in FLOOR:
                    found.append(f"{where}: \"{target}\" does not name a room "
                                 f"({', '.join(FLOOR)})")
                elif target in BELOW_ALL:
                    continue
                elif other != room and FLOOR[other] >= FLOOR[room]:
                    how = "beside" if FLOOR[other] == FLOOR[room] else "above"
                    found.append(f"{where}: {room}/ includes \"{target}\", a room {how} its own")
    return found


def self_test():
    cases = {
        "core/a.h": '#include "core/b.h"\n#include "kernels/k.h"\n',   # fine
        "kernels/e.cpp": '#include "core/error.h"\n#include "core/tensor.h"\n',  # 2: above
        "data/x.cpp": '#include "models/m.h"\n',                      # beside
        "models/m.cpp": '#include "train/t.h"\n',                     # above
        "python/src/b.cpp": '#include "tools/c.h"\n',                 # beside
        "kernels/k.cpp": '#include "k.h"\n',                          # no room
        "run/r.cpp": '#include "analysis/a.h"\n#include "data/d.h"\n',  # fine
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in cases.items():
            p = pathlib.Path(tmp, name)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        found = violations(tmp)
    expected = ["data/x.cpp:1", "kernels/e.cpp:2", "kernels/k.cpp:1", "models/m.cpp:1", "python/src/b.cpp:1"]
    got = sorted(line.split(": ", 1)[0] for line in found)
    if got != expected:
        print(f"self-test failed: expected {expected}, got {got}", file=sys.stderr)
        return 1
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else pathlib.Path(__file__).resolve().parents[2]
    found = violations(root)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
