"""The review web app: FastAPI routes over a :class:`~labelscout.review.session.ReviewSession`.

The routes parse, call the session and return JSON or bytes; the logic lives in the
session. The page, its script and style ship in ``review/static/`` and load nothing from
elsewhere, so the review works offline.

Safety: only the dataset's own files are served (a path must be a sample's id, and must
stay inside the root after following links; anything else is a 404, the same answer as a
file that does not exist). Without a token the app answers only requests addressed to a
local host name (so a web page elsewhere cannot reach it through DNS rebinding); with a
token every request must carry it (``?token=`` once, then a cookie, or the
``X-Labelscout-Token`` header).
"""
# no `from __future__ import annotations`: FastAPI reads the route annotations (Request is imported lazily)

import hmac
import json
import logging
from importlib import resources
from typing import Any

from ..errors import BadSampleError, LabelscoutError
from .session import ReviewSession

__all__ = ["create_app", "LOCAL_HOSTS", "TOKEN_COOKIE"]

log = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_COOKIE = "labelscout_review_token"
MAX_THUMBS = 512
MAX_SPRITE = 256  # slots of a sprite sheet: 256 x 136 px (a 128 px thumbnail and its gutter) stays inside JPEG's 65,535 px
_STATIC = resources.files("labelscout.review") / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _host_of(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8000
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def create_app(session: ReviewSession, *, token: str | None = None, allowed_hosts: tuple[str, ...] = LOCAL_HOSTS):
    """The ASGI app serving ``session``. ``token``: required on every request when set."""
    from fastapi import FastAPI, Request
    from fastapi.responses import FileResponse, JSONResponse, Response

    app = FastAPI(title="labelscout review", docs_url=None, redoc_url=None, openapi_url=None)
    static = {p.name: p for p in _STATIC.iterdir() if p.is_file()}

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token:
            supplied = (request.query_params.get("token") or request.headers.get("x-labelscout-token")
                        or request.cookies.get(TOKEN_COOKIE) or "")
            if not hmac.compare_digest(supplied.encode(), token.encode()):
                return Response("This review needs its token: open the URL the command printed.", status_code=403,
                                media_type="text/plain")
            response = await call_next(request)
            if request.query_params.get("token"):
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return response
        if _host_of(request.headers.get("host", "")) not in allowed_hosts:
            return Response("Requests must be addressed to this machine (127.0.0.1 or localhost).", status_code=403,
                            media_type="text/plain")
        return await call_next(request)

    @app.exception_handler(LabelscoutError)
    async def _library_error(_request: Request, exc: LabelscoutError):
        return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=400)

    def _static(name: str) -> Response:
        path = static.get(name)
        if path is None:
            return Response("not found", status_code=404)
        suffix = "." + name.rsplit(".", 1)[-1]
        return Response(path.read_bytes(), media_type=_TYPES.get(suffix, "application/octet-stream"),
                        headers={"Cache-Control": "no-cache"})

    @app.get("/")
    def index() -> Response:
        return _static("review.html")

    @app.get("/static/{name}")
    def static_file(name: str) -> Response:
        return _static(name)

    @app.get("/api/meta")
    def meta() -> dict[str, Any]:
        return {**session.meta(), "seq": session.store.last_seq()}

    @app.get("/api/class")
    def class_view(name: str, sort: str = "misfit", like: int | None = None) -> dict[str, Any]:
        return session.class_view(name, sort=sort, like=like)

    @app.get("/api/elsewhere")
    def elsewhere(name: str) -> dict[str, Any]:
        return session.elsewhere_view(name)

    @app.get("/api/decisions")
    def decisions(since: int = 0) -> dict[str, Any]:
        rows = session.decisions(since)
        return {"decisions": rows, "seq": rows[-1]["seq"] if rows else since}

    @app.post("/api/decisions")
    async def record(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON: {reviewer, marks: [{idx, verdict, new}]}"}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("marks"), list):
            return JSONResponse({"error": "expected {reviewer, marks: [{idx, verdict, new}]}"}, status_code=400)
        return {"decisions": session.mark(body.get("reviewer"), body["marks"])}

    @app.get("/api/summary")
    def summary() -> dict[str, Any]:
        return session.summary()

    @app.get("/thumb/{i}")
    def thumb(i: int) -> Response:
        try:
            data = session.thumbnail(i)
        except BadSampleError as exc:
            log.debug("no thumbnail for sample %d: %s", i, exc)
            data = None
        if data is None:
            return Response("not found", status_code=404)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/thumbs")
    def thumbs(i: str) -> Response:
        """Many thumbnails in one answer: a first line with the JSON list of their byte
        lengths (-1: none), then the JPEGs back to back."""
        try:
            indices = [int(t) for t in i.split(",") if t.strip()]
        except ValueError:
            return JSONResponse({"error": f"i must be comma-separated sample indices; got {i[:80]!r}"}, status_code=400)
        if len(indices) > MAX_THUMBS:
            return JSONResponse({"error": f"at most {MAX_THUMBS} thumbnails per request; got {len(indices)}"}, status_code=400)
        parts = session.thumbnails(indices)
        head = json.dumps([len(p) if p is not None else -1 for p in parts]).encode() + b"\n"
        return Response(head + b"".join(p for p in parts if p is not None), media_type="application/octet-stream",
                        headers={"Cache-Control": "no-store"})

    @app.get("/sprite")
    def sprite(i: str) -> Response:
        """The thumbnails of ``i`` (comma-separated sample indices) side by side in one
        JPEG; the ``X-Sprite`` header says how to cut it: ``{"slot": px, "sides": [px or -1]}``."""
        try:
            indices = [int(t) for t in i.split(",") if t.strip()]
        except ValueError:
            return JSONResponse({"error": f"i must be comma-separated sample indices; got {i[:80]!r}"}, status_code=400)
        if not 0 < len(indices) <= MAX_SPRITE:
            return JSONResponse({"error": f"a sprite holds 1 to {MAX_SPRITE} thumbnails; got {len(indices)}"}, status_code=400)
        data, slot, sides = session.thumbnail_sprite(indices)
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "no-store", "X-Sprite": json.dumps({"slot": slot, "sides": sides})})

    @app.get("/file/{path:path}")
    def dataset_file(path: str) -> Response:
        real = session.dataset_file(path)
        if real is None:
            return Response("not found", status_code=404)
        return FileResponse(real)

    return app
