"""Contact geometry of planar footprints (Taichi functions): disc–disc, disc–square, square–square.

Every function takes the two bodies' centres ``xa``, ``xb`` (2-vectors, units) and yaws
``ya``, ``yb`` (rad) and returns one 7-vector ``(gap, nx, ny, rax, ray, rbx, rby)``: ``gap``
the signed distance between the footprints (units, negative when they overlap), ``n`` the unit
contact normal pointing from b towards a, ``ra``/``rb`` the contact point relative to each
centre. The code is branch-free (choices are arithmetic blends of finite values and no local
variable is assigned twice) because Taichi's reverse mode mishandles locals stored in branches
inside loops; numbers take the dtype of the inputs, so float64 stays float64.
"""

from __future__ import annotations

import taichi as ti

BLEND_DEPTH = 0.02
"""Units: when two square faces meet nearly parallel, both incident corners within about this
depth share the contact point (a smooth blend, so the lever arm and spin stay continuous)."""


@ti.func
def _perp(a):
    """The 2-vector ``a`` turned by +90°."""
    return ti.Vector([-a[1], a[0]])


@ti.func
def flag(cond, like):
    """1 where ``cond`` holds else 0, in the dtype of the scalar ``like``."""
    return ti.select(cond, like * 0.0 + 1.0, like * 0.0)


@ti.func
def blend(c, a, b):
    """``a`` where the 0/1 number ``c`` is 1, else ``b`` (both must be finite)."""
    return c * a + (1.0 - c) * b


@ti.func
def _sign(x):
    """+1 for x >= 0, else -1 (never 0, so normals stay unit)."""
    return ti.select(x >= 0.0, x * 0.0 + 1.0, x * 0.0 - 1.0)


@ti.func
def _pack(gap, n, ra, rb):
    return ti.Vector([gap, n[0], n[1], ra[0], ra[1], rb[0], rb[1]])


@ti.func
def flip(c):
    """The contact of (b, a) from that of (a, b)."""
    return ti.Vector([c[0], -c[1], -c[2], c[5], c[6], c[3], c[4]])


@ti.func
def disc_disc(xa, xb, h):
    """Two discs of radius ``h``."""
    d = xa - xb
    dist = ti.sqrt(d.dot(d) + 1e-12)
    n = d / dist
    gap = dist - 2.0 * h
    p = xb + n * (h + 0.5 * gap)
    return _pack(gap, n, p - xa, p - xb)


@ti.func
def disc_square(xa, xb, yb, h):
    """Disc ``a`` (radius ``h``) against square ``b`` (half side ``h``, yaw ``yb``). A disc
    centre inside the square is pushed out through the nearest face."""
    e1 = ti.Vector([ti.cos(yb), ti.sin(yb)])
    e2 = _perp(e1)
    d = xa - xb
    q = ti.Vector([d.dot(e1), d.dot(e2)])
    clamped = ti.Vector([ti.min(ti.max(q[0], -h), h), ti.min(ti.max(q[1], -h), h)])
    diff = q - clamped
    dist2 = diff.dot(diff)
    dist = ti.sqrt(dist2 + 1e-18)
    inside = flag(dist2 <= 1e-12, h)
    px = h - ti.abs(q[0])
    py = h - ti.abs(q[1])
    use_x = flag(px < py, h)
    n_in = ti.Vector([use_x * _sign(q[0]), (1.0 - use_x) * _sign(q[1])])
    closest_in = blend(use_x, ti.Vector([_sign(q[0]) * h, q[1]]), ti.Vector([q[0], _sign(q[1]) * h]))
    nl = blend(inside, n_in, diff / dist)
    closest = blend(inside, closest_in, clamped)
    gap = blend(inside, -ti.min(px, py) - h, dist - h)
    n = nl[0] * e1 + nl[1] * e2
    p = xb + closest[0] * e1 + closest[1] * e2
    return _pack(gap, n, p - xa, p - xb)


@ti.func
def _incident_point(xi, g1, g2, toward, ref_centre, ref_tangent, h):
    """Contact point on square ``xi`` (axes g1, g2) whose face points along ``toward``: its two
    face corners clipped to the reference face's extent, blended by depth."""
    a1 = g1.dot(toward)
    a2 = g2.dot(toward)
    second = flag(ti.abs(a2) > ti.abs(a1), a1)
    g = blend(second, g2 * _sign(a2), g1 * _sign(a1))
    t = _perp(g)
    face = xi + h * g
    c1 = face + h * t
    c2 = face - h * t
    s1 = (c1 - ref_centre).dot(ref_tangent)
    s2 = (c2 - ref_centre).dot(ref_tangent)
    p1 = c1 + (ti.min(ti.max(s1, -h), h) - s1) * ref_tangent
    p2 = c2 + (ti.min(ti.max(s2, -h), h) - s2) * ref_tangent
    d1 = p1.dot(toward)
    d2 = p2.dot(toward)
    deep = ti.max(d1, d2)
    w1 = 1.0 / (1.0 + ((deep - d1) / BLEND_DEPTH) ** 2)
    w2 = 1.0 / (1.0 + ((deep - d2) / BLEND_DEPTH) ** 2)
    return (w1 * p1 + w2 * p2) / (w1 + w2)


@ti.func
def _axis(d, ax, extent, h):
    """Separation of two squares along unit axis ``ax`` and the axis turned to point from b to a."""
    proj = d.dot(ax)
    return ti.abs(proj) - h - extent, ax * _sign(proj)


@ti.func
def square_square(xa, ya, xb, yb, h):
    """Two squares of half side ``h`` by the separating-axis test on their four face normals."""
    a1 = ti.Vector([ti.cos(ya), ti.sin(ya)])
    a2 = _perp(a1)
    b1 = ti.Vector([ti.cos(yb), ti.sin(yb)])
    b2 = _perp(b1)
    d = xa - xb
    s0, n0 = _axis(d, a1, h * (ti.abs(b1.dot(a1)) + ti.abs(b2.dot(a1))), h)
    s1, n1 = _axis(d, a2, h * (ti.abs(b1.dot(a2)) + ti.abs(b2.dot(a2))), h)
    s2, n2 = _axis(d, b1, h * (ti.abs(a1.dot(b1)) + ti.abs(a2.dot(b1))), h)
    s3, n3 = _axis(d, b2, h * (ti.abs(a1.dot(b2)) + ti.abs(a2.dot(b2))), h)
    pick_a = flag(s1 > s0, h)
    sep_a = ti.max(s0, s1)
    n_a = blend(pick_a, n1, n0)
    pick_b = flag(s3 > s2, h)
    sep_b = ti.max(s2, s3)
    n_b = blend(pick_b, n3, n2)
    ref_a = flag(sep_a >= sep_b, h)
    gap = ti.max(sep_a, sep_b)
    n = blend(ref_a, n_a, n_b)
    # a's face is the reference: b's corners are incident, b's face points along +n; else the reverse
    p_ref_a = _incident_point(xb, b1, b2, n, xa - h * n, _perp(n), h)
    p_ref_b = _incident_point(xa, a1, a2, -n, xb + h * n, _perp(n), h)
    p = blend(ref_a, p_ref_a, p_ref_b)
    return _pack(gap, n, p - xa, p - xb)
