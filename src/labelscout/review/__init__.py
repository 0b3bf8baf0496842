"""Label review: one class at a time, misfits first, every decision kept.

* :func:`open_review` -> :class:`ReviewSession` (the library side),
* :class:`ReviewServer` (the web app on a local port), :func:`review` (inline in Jupyter),
* :class:`DecisionStore` (``RUN/review.sqlite``), :func:`export_review` (corrections.csv and
  a corrected labels file).
"""
from .export import ExportResult, export_review
from .misfits import Misfits
from .notebook import ReviewHandle, review
from .server import ReviewServer
from .session import ReviewSession, open_review
from .store import DecisionStore

__all__ = ["open_review", "ReviewSession", "ReviewServer", "review", "ReviewHandle", "DecisionStore", "export_review",
           "ExportResult", "Misfits"]
