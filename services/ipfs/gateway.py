"""A read-only IPFS gateway as an ASGI app: `GET|HEAD /ipfs/<cid>[/path]`.

Content type from the file name, else sniffed from the first bytes; single HTTP ranges
(`bytes=a-b`, `a-`, `-n`) answer 206 so a browser can seek in a film. Every block is
verified before its bytes are sent; content is immutable, so responses carry an ETag of
the CID and a year-long cache lifetime.
"""

from __future__ import annotations

import mimetypes
import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from services.ipfs.errors import BlockNotFound, InvalidCid, IpfsError, NotAFile
from services.ipfs.store import ContentStore

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF", "application/pdf"),
)


def sniff(head: bytes, name: str = "") -> str:
    """MIME type of a file from its name or, failing that, its first bytes."""
    guessed = mimetypes.guess_type(name)[0] if "." in name else None
    if guessed:
        return guessed
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    try:
        text = head.decode()
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "application/json" if text.lstrip()[:1] in ("{", "[") else "text/plain; charset=utf-8"


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single `Range` header; None when unsatisfiable."""
    m = _RANGE.match(header.replace(" ", ""))
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        suffix = int(m.group(2))
        return (max(0, size - suffix), size - 1) if suffix and size else None
    start = int(m.group(1))
    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    return (start, end) if start <= end and start < size else None


def gateway_app(store: ContentStore, prefix: str = "/ipfs") -> Starlette:
    """The gateway over one content store; it serves `<prefix>/<cid>[/path]` (prefix "" when
    mounted under `/ipfs` in another app)."""

    async def serve(request: Request) -> Response:
        path = request.path_params["path"]
        try:
            cid = store.resolve(path)
            info = store.stat(str(cid))
            if info.type != "file":
                raise NotAFile(f"{path} is a {info.type}, not a file")
            head = b"".join(store.read(str(cid), 0, 512))
        except InvalidCid as exc:
            return PlainTextResponse(str(exc), status_code=400)
        except (BlockNotFound, NotAFile) as exc:
            return PlainTextResponse(str(exc), status_code=404)
        except IpfsError as exc:
            return PlainTextResponse(str(exc), status_code=502)
        size = info.size
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{cid}"',
                   "Cache-Control": "public, max-age=29030400, immutable",
                   "X-Ipfs-Path": f"/ipfs/{path}"}
        kind = sniff(head, path.rsplit("/", 1)[-1])
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        start, end, status = 0, size - 1, 200
        if "range" in request.headers:
            span = parse_range(request.headers["range"], size)
            if span is None:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
            (start, end), status = span, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(max(0, end - start + 1))
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=kind)
        body = store.read(str(cid), start, end - start + 1) if size else iter([b""])
        return StreamingResponse(body, status_code=status, headers=headers, media_type=kind)

    return Starlette(routes=[Route(prefix + "/{path:path}", serve, methods=["GET", "HEAD"])])
