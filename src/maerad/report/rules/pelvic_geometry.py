"""2-D mid-sagittal geometry for pelvic-floor MRI: reference lines and signed distances (SPEC §4.2).

Points are ``(x, y)`` tuples in mm in any in-plane frame; ``caudal`` is a vector pointing towards
the patient's feet in that frame. Signed distances are positive caudal to (below) a line
(SPEC §4.2 ASSUMPTION).

Examples::

    >>> n = caudal_normal((0.0, 0.0), (100.0, 0.0), caudal=(0.0, -1.0))
    >>> n
    (0.0, -1.0)
    >>> signed_distance((50.0, -30.0), (0.0, 0.0), n)
    30.0
"""

from __future__ import annotations

import math

__all__ = ["Point", "caudal_normal", "cos_to", "distance", "signed_distance"]

Point = tuple[float, float]


def distance(a: Point, b: Point) -> float:
    """Euclidean distance |b − a| in mm."""
    return math.hypot(b[0] - a[0], b[1] - a[1])


def caudal_normal(start: Point, end: Point, caudal: Point) -> Point:
    """Unit normal of the line ``start → end`` that points caudally (SPEC §4.2: ``dot(n, down) > 0``).

    Raises:
        ValueError: the two points coincide or ``caudal`` is the zero vector.
    """
    length = distance(start, end)
    caudal_length = math.hypot(caudal[0], caudal[1])
    if length == 0.0 or caudal_length == 0.0:
        raise ValueError("a reference line needs two distinct points and a non-zero caudal vector")
    ux, uy = (end[0] - start[0]) / length, (end[1] - start[1]) / length
    nx, ny = -uy, ux
    if nx * caudal[0] + ny * caudal[1] < 0:
        nx, ny = -nx, -ny
    return (nx + 0.0, ny + 0.0)  # + 0.0 turns -0.0 into 0.0


def signed_distance(point: Point, origin: Point, normal: Point) -> float:
    """``dot(point − origin, normal)``: the signed distance of ``point`` from the line (mm)."""
    return (point[0] - origin[0]) * normal[0] + (point[1] - origin[1]) * normal[1]


def cos_to(direction_start: Point, direction_end: Point, caudal: Point) -> float:
    """|cos| of the angle between the line ``start → end`` and the caudal direction."""
    length = distance(direction_start, direction_end) * math.hypot(caudal[0], caudal[1])
    if length == 0.0:
        return 1.0
    dx, dy = direction_end[0] - direction_start[0], direction_end[1] - direction_start[1]
    return abs(dx * caudal[0] + dy * caudal[1]) / length
