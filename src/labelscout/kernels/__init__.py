"""Fast CPU / GPU kernels; their slow references live beside them (``_reference``) for the tests."""
from __future__ import annotations

from .farthest_point import farthest_point_sampling, min_sq_dist_to_centres

__all__ = ["farthest_point_sampling", "min_sq_dist_to_centres"]
