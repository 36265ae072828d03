#!/usr/bin/env python3
"""check_layers.py ARCHIVE [NM [LAYERS]] -- the layering check behind c_layers.

The library's source files must call each other as a layered DAG: every
file calls only files below it.  This reads the call graph from the built
objects of the static library ARCHIVE: an undefined symbol of A.o that B.o
defines is an edge A -> B.  If the graph has a cycle, every strongly
connected component is printed with the symbols behind each edge inside
it, and the check fails.

With LAYERS (src/log.h), the graph must also follow the "Layers" list
there, bottom to top: every object file is listed, and each calls only
files listed above it.

Exits 77 (ctest's skip code) when nm (NM, default "nm") is missing.
"""
import re
import shutil
import subprocess
import sys


def symbols(nm, archive):
    """Map object -> (defined names, undefined names), from nm."""
    out = subprocess.run([nm, "-A", archive], check=True,
                         capture_output=True, text=True).stdout
    objs = {}
    for line in out.splitlines():
        # "libraftwal.a:log.c.o:0000000000000000 T rw_log_unref"
        # "libraftwal.a:log.c.o:                 U rw_log_unref"
        head, _, rest = line.rpartition(":")
        obj = head.split(":")[-1]
        fields = rest.split()
        if len(fields) < 2:
            continue
        kind, name = fields[-2], fields[-1]
        defined, undefined = objs.setdefault(obj, (set(), set()))
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():  # global definition (T, D, B, R, ...)
            defined.add(name)
    return objs


def call_graph(objs):
    """edges[a][b] = the symbols a uses that b defines."""
    owner = {}
    for obj, (defined, _) in objs.items():
        for name in defined:
            owner[name] = obj
    edges = {obj: {} for obj in objs}
    for obj, (_, undefined) in objs.items():
        for name in undefined:
            b = owner.get(name)
            if b is not None and b != obj:
                edges[obj].setdefault(b, set()).add(name)
    return edges


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layers(edges):
    """Files bottom to top: each file's layer is one above its highest callee."""
    level = {}

    def depth(v):
        if v not in level:
            level[v] = 0
            level[v] = 1 + max((depth(w) for w in edges[v]), default=-1)
        return level[v]

    for v in edges:
        depth(v)
    return level


def listed_layers(path):
    """The file names of the "/* Layers." comment of path, bottom first."""
    names, inside = [], False
    with open(path) as f:
        for line in f:
            if line.startswith("/* Layers."):
                inside = True
            elif inside and line.startswith(" */"):
                break
            elif inside:
                m = re.match(r" \*   (\S+\.c)\s", line)
                if m:
                    names.append(m.group(1))
    return names


def against_list(edges, order):
    """Complaints about edges that do not follow the listed order."""
    pos = {name: i for i, name in enumerate(order)}
    files = {short(o): o for o in edges}
    bad = ["%s is built but not in the Layers list" % f
           for f in sorted(files) if f not in pos]
    bad += ["%s is in the Layers list but not built" % f
            for f in order if f not in files]
    for f in sorted(files):
        for b in sorted(edges[files[f]]):
            g = short(b)
            if f in pos and g in pos and pos[g] >= pos[f]:
                bad.append("%s calls %s, listed above it: %s"
                           % (f, g, ", ".join(sorted(edges[files[f]][b]))))
    return bad


def short(obj):
    return obj[:-2] if obj.endswith(".o") else obj


def main():
    if len(sys.argv) not in (2, 3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    nm = sys.argv[2] if len(sys.argv) >= 3 and sys.argv[2] else "nm"
    if shutil.which(nm) is None:
        print("%s not found: layering check skipped" % nm)
        return 77
    edges = call_graph(symbols(nm, sys.argv[1]))
    bad = cycles(edges)
    if bad:
        for comp in bad:
            print("cycle among: " + " ".join(short(o) for o in comp))
            members = set(comp)
            for a in comp:
                for b in sorted(edges[a]):
                    if b in members:
                        names = ", ".join(sorted(edges[a][b]))
                        print("  %s -> %s: %s" % (short(a), short(b), names))
        print("FAIL: %d cycle(s) in the call graph of %s"
              % (len(bad), sys.argv[1]))
        return 1
    if len(sys.argv) == 4:
        order = listed_layers(sys.argv[3])
        if not order:
            print("FAIL: no Layers list in %s" % sys.argv[3])
            return 1
        bad = against_list(edges, order)
        if bad:
            for line in bad:
                print(line)
            print("FAIL: the call graph does not follow the Layers list of %s"
                  % sys.argv[3])
            return 1
    level = layers(edges)
    for obj in sorted(edges, key=lambda o: (level[o], o)):
        print("%d %s -> %s" % (level[obj], short(obj),
                               " ".join(short(b) for b in sorted(edges[obj]))))
    print("ok: the call graph is a DAG" +
          (" that follows the Layers list" if len(sys.argv) == 4 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
