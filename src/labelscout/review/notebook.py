"""``labelscout.review(...)``: the review UI inline in a Jupyter notebook.

The same app as ``labelscout review``, served from a background thread of the kernel; the
returned handle renders as an ``<iframe>`` of it (Jupyter calls ``_repr_html_``), so the
review sits under the cell that opened it, as in MLfix, and the notebook keeps running.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .server import ReviewServer
from .session import ReviewSession, open_review

__all__ = ["review", "ReviewHandle"]


class ReviewHandle:
    """A running review: ``url``, ``session`` (its decisions: ``session.store``), ``stop()``."""

    def __init__(self, server: ReviewServer, height: int = 720):
        self.server = server
        self.height = height

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def session(self) -> ReviewSession:
        return self.server.session

    def stop(self) -> None:
        self.server.stop()

    def _repr_html_(self) -> str:
        src = html.escape(self.url, quote=True)
        return (f'<iframe src="{src}" title="labelscout review" width="100%" height="{int(self.height)}" '
                f'style="border:1px solid #d1d5db;border-radius:6px"></iframe>'
                f'<div style="font:12px sans-serif;color:#6b7280">labelscout review at <a href="{src}" target="_blank">{src}</a>'
                f' &middot; decisions in {html.escape(str(self.session.store.path))}</div>')

    def __repr__(self) -> str:
        return f"ReviewHandle(url={self.url!r}, run={str(self.session.out)!r})"


def review(images: str | Path, *, out: str | Path, labels: str | None = "auto", predictions: str | Path | None = None,
           host: str = "127.0.0.1", port: int = 0, token: str | None = None, height: int = 720, **options: Any) -> ReviewHandle:
    """Open a label review of ``images`` and serve it in the background; show the result
    in a notebook cell to review inline. ``options``: those of
    :func:`labelscout.review.session.open_review` (label_column, embeddings, ids,
    reviewer, model, ...). Decisions go to ``out/review.sqlite`` at once."""
    session = open_review(images, out=out, labels=labels, predictions=predictions, **options)
    return ReviewHandle(ReviewServer(session, host=host, port=port, token=token).start(), height=height)
