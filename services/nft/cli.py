"""`gaka publish OUTDIR`: pin a painted plan's folder and mint its token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from gaka.config import Settings
from services.nft.errors import PublishError


def publish_folder(settings: Settings, outdir: Path, network: str | None = None,
                   rpc_url: str | None = None, api: str | None = None) -> dict[str, Any]:
    """Open the configured store and chain, publish `outdir`, close; returns the record."""
    from services.chain.backends import open_chain
    from services.chain.compiler import compile_project
    from services.chain.deploy import deploy_command, load_record, record_name, resolve_target
    from services.ipfs import open_store
    from services.nft.publish import load_folder, publish

    folder = load_folder(outdir)
    target = resolve_target(settings, network, rpc_url)
    chain = open_chain(target.spec)
    try:
        record_path = settings.deployments_dir / f"{record_name(target.name, chain.chain_id)}.json"
        record = load_record(record_path)
        entry = record.contracts.get("PaintingNFT") if record is not None else None
        if record is None or entry is None:
            raise PublishError(f"no PaintingNFT deployment in {record_path}: run "
                               f"{deploy_command(target.name)} first")
        store = open_store(settings, api)
        if not chain.get_code(entry.address):
            raise PublishError(f"no contract at {entry.address} on {target.name} (chain "
                               f"reset?): run {deploy_command(target.name)}")
        nft = chain.at(compile_project()["PaintingNFT"], entry.address)
        result = publish(folder, store, chain, nft, record.robot, deploy_block=entry.block)
    finally:
        chain.close()
    return result.to_dict()


def publish_cmd(
    outdir: Path = typer.Argument(..., help="a painted plan's folder (plan.json, canvas.png, "
                                            "film.mp4, paint.json)"),
    network: str | None = typer.Option(None, "--network", "-n",
                                       help="embedded | localhost | sepolia"),
    rpc_url: str | None = typer.Option(None, "--rpc-url", help="any JSON-RPC URL"),
    api: str | None = typer.Option(None, "--api", help="IPFS node RPC address (default: the "
                                                       "ipfs_api setting, else embedded)"),
) -> None:
    """Pin the painting (PNG, MP4, plan, metadata) and mint it to the robot, once."""
    settings = Settings() if network is None else Settings(network=network)
    typer.echo(json.dumps(publish_folder(settings, outdir, network, rpc_url, api), indent=2))
