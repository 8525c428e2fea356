#!/usr/bin/env python3
"""Fails when src/'s top-level modules import each other in a cycle.

Reads every `crate::<module>` path in src/'s non-test code (a unit test may reach up to build
its fixtures: `tests.rs` files and `#[cfg(test)] mod ...` blocks are left out), builds the graph
of top-level modules, and prints each cycle it finds. CI runs it: the engine's layering is kept by a check, not by memory.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def top_module(path: pathlib.Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".rs") if len(relative.parts) > 1 or relative.name != "lib.rs" else "lib"


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for file in SRC.rglob("*.rs"):
        module = top_module(file)
        if module == "lib":
            continue
        if file.name in ("tests.rs", "testing.rs"):
            continue
        text = file.read_text()
        test_block = re.search(r"#\[cfg\(test\)\]\s*(pub(\(crate\))?\s+)?mod \w+\s*\{", text)
        if test_block:
            text = text[: test_block.start()]
        text = re.sub(r"//[^\n]*", "", text)
        for target in PATH.findall(text):
            if target != module:
                edges.setdefault(module, set()).add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, seen = [], set()
    def walk(node, stack):
        for nxt in sorted(edges.get(node, ())):
            if nxt in stack:
                cycle = stack[stack.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
            elif len(stack) < 12:
                walk(nxt, stack + [nxt])
    for start in sorted(edges):
        walk(start, [start])
    return found


def main() -> int:
    edges = graph()
    if "-v" in sys.argv:
        for module in sorted(edges):
            print(f"{module} -> {', '.join(sorted(edges[module]))}")
    found = cycles(edges)
    for cycle in found:
        print("import cycle: " + " -> ".join(cycle), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
