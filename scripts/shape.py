#!/usr/bin/env python3
"""The workspace's shape (docs: ARCHITECTURE.md, "Crate graph").

Prints, per crate, its source lines (non-blank, non-comment, without unit
test modules) and the import circles among its files; Node's public
methods; the longest functions. With --check, exits 1 if any crate has an
import circle among its files (`use crate::…`/`super::…` edges; a file
importing a module's `mod.rs` counts as an edge to that file).
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def strip_tests(src):
    i = src.find("#[cfg(test)]\nmod tests")
    return src[:i] if i >= 0 else src


def modules(src_dir):
    """File-level module name -> source, e.g. 'federation::apply'."""
    out = {}
    for dp, _, fs in os.walk(src_dir):
        for f in fs:
            if not f.endswith(".rs"):
                continue
            p = os.path.join(dp, f)
            parts = os.path.relpath(p, src_dir)[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            # The crate root declares modules: its lines count, it is no
            # node of the graph.
            name = "" if parts in (["lib"], ["main"]) else "::".join(parts)
            out[name] = strip_tests(open(p, encoding="utf-8").read())
    return out


def graph(mods):
    names = set(mods)

    def resolve(path):
        # The longest prefix of `a::b::c` that names a file.
        segs = path.split("::")
        for n in range(len(segs), 0, -1):
            cand = "::".join(segs[:n])
            if cand in names:
                return cand
        return None

    g = {}
    for name, src in mods.items():
        deps = set()
        for m in re.finditer(r"crate::\{([^}]*)\}", src):
            for item in m.group(1).split(","):
                r = resolve(item.strip())
                if r:
                    deps.add(r)
        for m in re.finditer(r"crate::((?:[a-z_0-9]+::)*[a-z_0-9]+)", src):
            r = resolve(m.group(1))
            if r:
                deps.add(r)
        parent = name.split("::")[:-1]
        for m in re.finditer(r"super::((?:[a-z_0-9]+::)*[a-z_0-9]+)", src):
            r = resolve("::".join(parent + [m.group(1)]))
            if r:
                deps.add(r)
        deps.discard(name)
        g[name] = deps - {""}
    g.pop("", None)
    return g


def circles(g):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def code_lines(src):
    return sum(1 for l in src.splitlines() if l.strip() and not l.strip().startswith("//"))


def functions(path, src):
    lines = src.splitlines()
    for i, l in enumerate(lines):
        m = re.match(r"\s*(pub(\([a-z]+\))?\s+)?(async\s+)?fn\s+([a-z_0-9]+)", l)
        if not m:
            continue
        depth, started = 0, False
        for j in range(i, len(lines)):
            depth += lines[j].count("{") - lines[j].count("}")
            started = started or "{" in lines[j]
            if started and depth <= 0:
                yield j - i + 1, f"{path}:{i + 1} {m.group(4)}"
                break
            if not started and lines[j].rstrip().endswith(";"):
                break


def main():
    crates_dir = os.path.join(ROOT, "crates")
    total, per, bad, fns, node_pub = 0, {}, 0, [], 0
    report = []
    for c in sorted(os.listdir(crates_dir)):
        src_dir = os.path.join(crates_dir, c, "src")
        if not os.path.isdir(src_dir):
            continue
        mods = modules(src_dir)
        per[c] = sum(code_lines(s) for s in mods.values())
        total += per[c]
        cs = circles(graph(mods))
        bad += len(cs)
        report.append(f"  {c}: {len(mods) - ('' in mods)} files, {len(cs)} import circles"
                      + "".join(f"\n    circle: {' '.join(x)}" for x in cs))
        for name, s in mods.items():
            fns.extend(functions(f"{c}/{name}", s))
            in_node = False
            for l in s.splitlines():
                if re.match(r"^impl(<[^>]*>)?\s+Node\s*\{", l):
                    in_node = True
                elif l.startswith("impl") or l.startswith("}"):
                    in_node = in_node and not l.startswith("impl")
                if in_node and l.startswith("    pub fn"):
                    node_pub += 1
    print(f"source lines: {total}")
    for c, n in sorted(per.items(), key=lambda x: -x[1]):
        print(f"  {c:14} {n:6}  {100 * n / total:4.1f}%")
    print(f"Node public methods: {node_pub}")
    print("longest functions:")
    for n, w in sorted(fns, reverse=True)[:5]:
        print(f"  {n:4} {w}")
    print("import circles among each crate's files:")
    print("\n".join(report))
    if "--check" in sys.argv and bad:
        print(f"shape: {bad} import circle(s); see ARCHITECTURE.md, 'Crate graph'", file=sys.stderr)
        sys.exit(1)


main()
