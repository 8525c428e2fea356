#!/usr/bin/env python3
"""Lists Rust functions longer than a limit (default 80 lines), for the engine-as-a-library
measurements: `tools/long_functions.py [--limit N] DIR...` prints `lines path:line name` and a
total. Counting is by brace matching from the `fn` line, skipping strings, chars and comments:
close enough to compare two revisions, not a parser."""

import re
import sys
from pathlib import Path

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def strip(line: str, state: dict) -> str:
    """The line without comments, strings and char literals (state carries block comments)."""
    out, i = [], 0
    while i < len(line):
        if state["block"]:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out)
            state["block"], i = False, end + 2
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"], i = True, i + 2
            continue
        if c == '"':
            j = i + 1
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            continue
        if c == "'" and re.match(r"'(\\.|[^\\'])'", line[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", line[i:]).group(0))
            continue
        out.append(c)
        i += 1
    return "".join(out)


def functions(path: Path):
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    state = {"block": False}
    clean = [strip(line, state) for line in lines]
    for start, line in enumerate(clean):
        match = FN.match(line)
        if not match:
            continue
        depth, opened = 0, False
        for end in range(start, len(clean)):
            for c in clean[end]:
                if c == "{":
                    depth, opened = depth + 1, True
                elif c == "}":
                    depth -= 1
            if not opened and ";" in clean[end]:
                break  # a declaration without a body
            if opened and depth == 0:
                yield match.group(7), start + 1, end - start + 1
                break


def main() -> None:
    args = sys.argv[1:]
    limit = 80
    if args[:1] == ["--limit"]:
        limit, args = int(args[1]), args[2:]
    long = []
    for root in args:
        for path in sorted(Path(root).rglob("*.rs")):
            for name, line, length in functions(path):
                if length > limit:
                    long.append((length, f"{path}:{line}", name))
    for length, where, name in sorted(long, reverse=True):
        print(f"{length:5} {where} {name}")
    print(f"{len(long)} functions over {limit} lines")


if __name__ == "__main__":
    main()
