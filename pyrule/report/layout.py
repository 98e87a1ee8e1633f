"""A layered (Sugiyama-style) drawing of a directed acyclic graph, top to bottom, in pure Python.

1. layers: longest path from the sources (a node sits one layer below its deepest dependency);
2. edges that span several layers get a chain of dummy nodes, one per layer crossed;
3. order within layers: barycentric sweeps down and up, keeping the order with fewest crossings;
4. coordinates: each node pulled toward the mean x of its neighbours, keeping order and gaps.

Wide layers are drawn wide (the report scrolls, and can fit the drawing to the window): folding
them onto several rows was tried, and made per-sample chains cross each other.

Edges run from a dependency (above) to the node that needs it (below). Cycles, which a job
graph never has, are tolerated: the nodes left over are placed on one more layer.
"""

from __future__ import annotations

from ..record import record

NODE_H = 26.0
LAYER_GAP = 48.0
H_GAP = 14.0
DUMMY_W = 6.0
MARGIN = 12.0
MAX_SWEEPS = 24


@record
class Placed:
    id: str
    width: float
    layer: int
    x: float = 0.0  # centre
    y: float = 0.0  # centre
    dummy: bool = False


@record
class Layout:
    nodes: dict[str, Placed]
    edges: list[tuple[str, str, list[tuple[float, float]]]]  # (from, to, polyline points)
    width: float
    height: float
    layers: int = 0
    crossings: int = 0


def layout(ids: list[str], edges: list[tuple[str, str]], widths: dict[str, float] | None = None) -> Layout:
    """Lay out nodes `ids` (in a preferred initial order) with `edges` (from, to)."""
    widths = widths or {}
    index = {n: i for i, n in enumerate(ids)}
    edges = [(a, b) for a, b in dict.fromkeys(edges) if a in index and b in index and a != b]
    layer = _layers(ids, edges)
    nodes: dict[str, Placed] = {n: Placed(n, float(widths.get(n, 80.0)), layer[n]) for n in ids}

    # Unit-span edges for ordering: long edges go through one dummy per layer crossed.
    up: dict[str, list[str]] = {n: [] for n in ids}
    down: dict[str, list[str]] = {n: [] for n in ids}
    chains: dict[tuple[str, str], list[str]] = {}
    for a, b in edges:
        prev, chain = a, []
        for lv in range(layer[a] + 1, layer[b]):
            d = f"\0{a}\0{b}\0{lv}"
            nodes[d] = Placed(d, DUMMY_W, lv, dummy=True)
            up[d], down[d] = [], []
            down[prev].append(d)
            up[d].append(prev)
            chain.append(d)
            prev = d
        down[prev].append(b)
        up[b].append(prev)
        chains[(a, b)] = chain

    nlayers = max(layer.values(), default=-1) + 1
    order: list[list[str]] = [[] for _ in range(nlayers)]
    for n in ids:  # real nodes in the given order; dummies placed by the first sweep
        order[layer[n]].append(n)
    for d, p in nodes.items():
        if p.dummy:
            order[p.layer].append(d)
    order = _order(order, up, down, index)
    crossings = sum(_crossings(order[i], order[i + 1], down) for i in range(nlayers - 1))
    _coordinates(order, nodes, up, down)

    out_edges = []
    for (a, b), chain in chains.items():
        pa, pb = nodes[a], nodes[b]
        pts = [(pa.x, pa.y + NODE_H / 2)]
        for d in chain:
            pd = nodes[d]
            pts += [(pd.x, pd.y - NODE_H / 2), (pd.x, pd.y + NODE_H / 2)]
        pts.append((pb.x, pb.y - NODE_H / 2))
        out_edges.append((a, b, pts))
    real = {n: p for n, p in nodes.items() if not p.dummy}
    width = max((p.x + p.width / 2 for p in nodes.values()), default=0.0) + MARGIN
    height = max((p.y + NODE_H / 2 for p in nodes.values()), default=0.0) + MARGIN
    return Layout(real, out_edges, width, height, nlayers, crossings)


def _layers(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = {n: [] for n in ids}
    succs: dict[str, list[str]] = {n: [] for n in ids}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    indeg = {n: len(preds[n]) for n in ids}
    layer = {n: 0 for n in ids}
    ready = [n for n in ids if indeg[n] == 0]
    seen = 0
    while ready:
        nxt = []
        for n in ready:
            seen += 1
            for s in succs[n]:
                layer[s] = max(layer[s], layer[n] + 1)
                indeg[s] -= 1
                if indeg[s] == 0:
                    nxt.append(s)
        ready = nxt
    if seen < len(ids):  # a cycle: put what is left one layer below everything else
        last = max((layer[n] for n in ids if indeg[n] == 0), default=-1) + 1
        for n in ids:
            if indeg[n] > 0:
                layer[n] = last
        # edges inside the leftover layer cannot be drawn downwards; they are kept as they are
    return layer


def _order(order: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]],
           index: dict[str, int]) -> list[list[str]]:
    def sweep(cur: list[list[str]], downward: bool) -> list[list[str]]:
        cur = [list(layer) for layer in cur]
        rng = range(1, len(cur)) if downward else range(len(cur) - 2, -1, -1)
        for i in rng:
            ref = cur[i - 1] if downward else cur[i + 1]
            pos = {n: k for k, n in enumerate(ref)}
            nbrs = up if downward else down
            here = {n: k for k, n in enumerate(cur[i])}
            keys = {}
            for n in cur[i]:
                ps = [pos[m] for m in nbrs[n] if m in pos]
                # nodes without neighbours on that side keep their relative place
                keys[n] = (sum(ps) / len(ps)) if ps else here[n] * max(len(ref), 1) / max(len(cur[i]), 1)
            cur[i].sort(key=lambda n: (keys[n], index.get(n, here[n])))
        return cur

    def total(o: list[list[str]]) -> int:
        return sum(_crossings(o[i], o[i + 1], down) for i in range(len(o) - 1))

    best = sweep(order, True)  # places the dummies next to their sources
    best_c = total(best)
    cur = best
    stale = 0
    for it in range(MAX_SWEEPS):
        if best_c == 0 or stale >= 4:
            break
        cur = sweep(cur, it % 2 == 1)
        c = total(cur)
        if c < best_c:
            best, best_c, stale = cur, c, 0
        else:
            stale += 1
    return best


def _crossings(top: list[str], bottom: list[str], down: dict[str, list[str]]) -> int:
    """Edge crossings between two adjacent layers (inversions, counted with a Fenwick tree)."""
    pos = {n: k for k, n in enumerate(bottom)}
    ends = sorted((i, pos[m]) for i, n in enumerate(top) for m in down[n] if m in pos)
    size = len(bottom) + 1
    tree = [0] * (size + 1)
    count = 0
    seen = 0
    for _, p in ends:
        # edges already seen that end strictly to the right of p cross this one
        k, le = p + 1, 0
        while k > 0:
            le += tree[k]
            k -= k & -k
        count += seen - le
        k = p + 1
        while k <= size:
            tree[k] += 1
            k += k & -k
        seen += 1
    return count


def _coordinates(order: list[list[str]], nodes: dict[str, Placed], up: dict[str, list[str]],
                 down: dict[str, list[str]]) -> None:
    y = MARGIN
    for layer in order:
        for n in layer:
            nodes[n].y = y + NODE_H / 2
        y += NODE_H + LAYER_GAP

    def sep(a: str, b: str) -> float:
        return (nodes[a].width + nodes[b].width) / 2 + H_GAP

    def place(layer: list[str], desired: dict[str, float]) -> None:
        """As near `desired` as order and gaps allow: the mean of a left-packed and a
        right-packed placement (both keep the gaps, so their mean does too)."""
        if not layer:
            return
        fwd = [desired[layer[0]]]
        for k in range(1, len(layer)):
            fwd.append(max(desired[layer[k]], fwd[-1] + sep(layer[k - 1], layer[k])))
        bwd = [0.0] * len(layer)
        bwd[-1] = desired[layer[-1]]
        for k in range(len(layer) - 2, -1, -1):
            bwd[k] = min(desired[layer[k]], bwd[k + 1] - sep(layer[k], layer[k + 1]))
        for k, n in enumerate(layer):
            nodes[n].x = (fwd[k] + bwd[k]) / 2

    # start: every layer packed and centred on 0
    for layer in order:
        x = 0.0
        start: dict[str, float] = {}
        for k, n in enumerate(layer):
            if k:
                x += sep(layer[k - 1], n)
            start[n] = x
        place(layer, {n: v - x / 2 for n, v in start.items()})

    # then each node pulled toward its neighbours on both sides, sweeping down and up. A neighbour
    # pulls less the more nodes it is tied to on that side: a merge of 24 jobs does not drag
    # the 24 jobs above it together, while a job centres itself under its one dependency.
    def desired_x(n: str) -> float:
        total = weight = 0.0
        for m in up[n]:
            w = 1.0 / len(down[m])
            total, weight = total + w * nodes[m].x, weight + w
        for m in down[n]:
            w = 1.0 / len(up[m])
            total, weight = total + w * nodes[m].x, weight + w
        return total / weight if weight else nodes[n].x

    sweeps = 10 if len(nodes) <= 5000 else 4  # many dummies (long edges over deep graphs): fewer
    for it in range(sweeps):
        rng = range(len(order)) if it % 2 == 0 else range(len(order) - 1, -1, -1)
        for i in rng:
            place(order[i], {n: desired_x(n) for n in order[i]})

    left = min((p.x - p.width / 2 for p in nodes.values()), default=0.0)
    for p in nodes.values():
        p.x += MARGIN - left
