"""`gaka chain`: compile, deploy, and manage the signing keystore."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from gaka.config import Settings
from services.chain.errors import KeystoreError

app = typer.Typer(help="Compile and deploy contracts; manage the keystore.", no_args_is_help=True)
account_app = typer.Typer(help="Encrypted keystore for testnets and mainnets.",
                          no_args_is_help=True)
app.add_typer(account_app, name="account")

NetworkOpt = typer.Option(None, "--network", "-n",
                          help="embedded | revm | localhost | sepolia")
RpcOpt = typer.Option(None, "--rpc-url", help="any JSON-RPC URL (signer from the keystore)")


@app.command("compile")
def compile_cmd() -> None:
    """List the contracts: compiled from contracts/ (cached), or as shipped in the wheel."""
    from services.chain.compiler import compile_project

    for name, artifact in sorted(compile_project().items()):
        size = (len(artifact.deployed_bytecode) - 2) // 2
        typer.echo(f"{name:24s} {artifact.source:40s} {size:6d} bytes")


@app.command("deploy")
def deploy_cmd(network: str | None = NetworkOpt, rpc_url: str | None = RpcOpt) -> None:
    """Deploy the contracts of contracts/deploy.json; unchanged ones are kept."""
    from services.chain.deploy import deploy_project

    settings = Settings() if network is None else Settings(network=network)
    record = deploy_project(settings, rpc_url=rpc_url)
    typer.echo(json.dumps(record, indent=2))


def _keystore_path(path: Path | None) -> Path:
    chosen = path or Settings().keystore
    if chosen is None:
        raise KeystoreError("no keystore given: pass --keystore or set GAKA_KEYSTORE")
    return chosen


def _new_password() -> str:
    from services.chain.keystore import read_password

    try:
        return read_password(Settings().keystore_password_file)
    except KeystoreError:
        if not sys.stdin.isatty():
            raise
        return typer.prompt("Keystore password", hide_input=True, confirmation_prompt=True)


KeystoreOpt = typer.Option(None, "--keystore", "-k", help="keystore file (default GAKA_KEYSTORE)")


@account_app.command("new")
def account_new(keystore: Path | None = KeystoreOpt) -> None:
    """Create a random account in a new encrypted keystore and print its address."""
    from services.chain.keystore import create_keystore

    path = _keystore_path(keystore)
    typer.echo(create_keystore(path, _new_password()))


@account_app.command("import")
def account_import(keystore: Path | None = KeystoreOpt) -> None:
    """Encrypt a private key read from stdin (never from the command line)."""
    from services.chain.keystore import import_keystore

    path = _keystore_path(keystore)
    key = typer.prompt("Private key", hide_input=True) if sys.stdin.isatty() \
        else sys.stdin.readline()
    typer.echo(import_keystore(path, key, _new_password()))


@account_app.command("show")
def account_show(
    keystore: Path | None = KeystoreOpt,
    unlock: bool = typer.Option(False, help="decrypt to check the password"),
) -> None:
    """Print the keystore's address (and with --unlock, check the password)."""
    from services.chain.keystore import keystore_address, load_signer, read_password

    path = _keystore_path(keystore)
    if unlock:
        typer.echo(load_signer(path, read_password(Settings().keystore_password_file)).address)
    else:
        typer.echo(keystore_address(path))
