"""`gaka ipfs`: add, cat, get, pin, unpin, ls, stat, gc, migrate, and a local gateway.

Every command works on the embedded store under the data dir, or on a node with `--api`
(or the `ipfs_api` setting). `add` prints the CID exactly as `ipfs add -q` does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from gaka.config import Settings
from services.ipfs import ContentStore, open_store
from services.ipfs.cid import CID
from services.ipfs.errors import IpfsError

app = typer.Typer(help="IPFS content store: embedded (default) or a Kubo-RPC node.",
                  no_args_is_help=True)


def _store(ctx: typer.Context) -> ContentStore:
    return open_store(Settings(), ctx.obj)


@app.callback()
def _group(ctx: typer.Context, api: str | None = typer.Option(
        None, "--api", help="use the IPFS node at this RPC address instead of the embedded "
                            "store (http://host:port or a multiaddr)")) -> None:
    ctx.obj = api


@app.command("add")
def add(ctx: typer.Context,
        file: Path = typer.Argument(..., help="file to add ('-' reads stdin)"),
        cid_version: int = typer.Option(0, "--cid-version",
                                        help="0: Kubo's default (Qm…); 1: raw leaves, base32"),
        pin: bool = typer.Option(True, "--pin/--no-pin", help="pin it (as ipfs add does)")) -> None:
    """Add a file; print its CID as `ipfs add -q` does."""
    if cid_version not in (0, 1):
        raise IpfsError(f"--cid-version must be 0 or 1, got {cid_version}")
    source = sys.stdin.buffer if str(file) == "-" else file
    if isinstance(source, Path) and not source.is_file():
        raise IpfsError(f"{file} is not a file")
    typer.echo(str(_store(ctx).add(source, cid_version, pin)))


@app.command("cat")
def cat(ctx: typer.Context, path: str = typer.Argument(..., help="CID or CID/PATH")) -> None:
    """Write a file's bytes to stdout."""
    out = sys.stdout.buffer
    for piece in _store(ctx).read(path):
        out.write(piece)
    out.flush()


@app.command("get")
def get(ctx: typer.Context, path: str = typer.Argument(..., help="CID or CID/PATH"),
        output: Path | None = typer.Option(None, "--output", "-o",
                                           help="where to write (default: ./<CID>)")) -> None:
    """Save a file (written atomically; nothing is left on error)."""
    dest = output or Path(path.strip("/").split("/")[-1])
    size = _store(ctx).get(path, dest)
    typer.echo(f"saved {size} bytes to {dest}")


@app.command("pin")
def pin(ctx: typer.Context, cid: str = typer.Argument(..., help="CID to pin recursively")) -> None:
    """Pin a DAG recursively (every block must be present)."""
    _store(ctx).pin(CID.parse(cid))
    typer.echo(f"pinned {cid} recursively")


@app.command("unpin")
def unpin(ctx: typer.Context, cid: str = typer.Argument(..., help="pinned CID")) -> None:
    """Remove a pin; its blocks are deleted by the next gc."""
    _store(ctx).unpin(CID.parse(cid))
    typer.echo(f"unpinned {cid}")


@app.command("ls")
def ls(ctx: typer.Context) -> None:
    """List the recursively pinned CIDs, one a line."""
    for cid in _store(ctx).pins():
        typer.echo(str(cid))


@app.command("stat")
def stat(ctx: typer.Context, path: str = typer.Argument(..., help="CID or CID/PATH")) -> None:
    """Type, size and links of a CID, as JSON."""
    info = _store(ctx).stat(path)
    typer.echo(json.dumps({"cid": str(info.cid), "type": info.type, "size": info.size,
                           "links": info.links, "block_size": info.block_size}, indent=2))


@app.command("gc")
def gc(ctx: typer.Context) -> None:
    """Delete every block no pin reaches."""
    for cid in _store(ctx).gc():
        typer.echo(f"removed {cid}")


@app.command("migrate")
def migrate_cmd(ctx: typer.Context, to: str = typer.Option(..., "--to",
                help="RPC address of the target node (http://host:port or a multiaddr)")) -> None:
    """Copy everything pinned here to a node and pin it there, same CIDs."""
    from gaka.net import redact_url
    from services.ipfs.node import NodeStore
    from services.ipfs.store import migrate

    target = NodeStore(to, timeout_s=Settings().ipfs_timeout_s)
    roots = migrate(_store(ctx), target, progress=lambda cid: typer.echo(f"pinned {cid}"))
    typer.echo(f"migrated {len(roots)} pinned DAG(s) to {redact_url(to)}")


@app.command("gateway")
def gateway(ctx: typer.Context,
            host: str = typer.Option("127.0.0.1", help="address to listen on"),
            port: int = typer.Option(8080, min=1, max=65535, help="port to listen on")) -> None:
    """Serve /ipfs/CID and /ipfs/CID/PATH read-only over HTTP (ranges included)."""
    import uvicorn

    from gaka.net import check_listen
    from services.ipfs.gateway import gateway_app

    check_listen(host, port)
    uvicorn.run(gateway_app(_store(ctx)), host=host, port=port, log_level="warning")
