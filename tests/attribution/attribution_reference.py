"""An independent, exact (rational) Markov removal-effect computation, to check kassa's float solver.

Plain Python on purpose: transitions counted with a dict, the absorbing-chain equations solved by
Gaussian elimination over ``fractions.Fraction`` — no NumPy, no SciPy, nothing shared with kassa.
"""

from __future__ import annotations

from fractions import Fraction


def order1_removal_effects(records: list[tuple[list[str], float, float, float]]) -> dict[str, Fraction]:
    """Removal effect on conversions of each channel, order 1; records are (path, conversions, value, nulls)."""
    counts: dict[str, dict[str, Fraction]] = {}

    def add(a: str, b: str, w: Fraction) -> None:
        if w:
            counts.setdefault(a, {})
            counts[a][b] = counts[a].get(b, Fraction(0)) + w

    for path, conv, _value, nulls in records:
        c, n = Fraction(conv), Fraction(nulls)
        prev = "(start)"
        for ch in path:
            add(prev, ch, c + n)
            prev = ch
        add(prev, "(conversion)", c)
        add(prev, "(null)", n)
    channels = sorted({ch for p, *_ in records for ch in p})

    def p_conv(removed: str | None) -> Fraction:
        states = ["(start)"] + [c for c in channels if c != removed]
        idx = {s: i for i, s in enumerate(states)}
        m = len(states)
        # (I - Q) x = r
        a = [[Fraction(int(i == j)) for j in range(m)] + [Fraction(0)] for i in range(m)]
        for s in states:
            row = counts.get(s, {})
            total = sum(row.values(), Fraction(0))
            if total == 0:
                continue
            for t, w in row.items():
                if t == "(conversion)":
                    a[idx[s]][m] += w / total
                elif t in idx:
                    a[idx[s]][idx[t]] -= w / total
        for col in range(m):  # Gauss-Jordan, exact
            piv = next(r for r in range(col, m) if a[r][col] != 0)
            a[col], a[piv] = a[piv], a[col]
            pv = a[col][col]
            a[col] = [x / pv for x in a[col]]
            for r in range(m):
                if r != col and a[r][col] != 0:
                    f = a[r][col]
                    a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
        return a[0][m]

    full = p_conv(None)
    return {c: (1 - p_conv(c) / full) if full else Fraction(0) for c in channels}
