"""The `gaka` console script: one Typer app assembling each package's commands."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys

import typer
from pydantic import ValidationError

from gaka.config import Settings, describe_errors, unknown_env_warnings
from gaka.errors import GakaError
from robot.cli import app as robot_app
from robot.cli import run as robot_run
from services.chain.cli import app as chain_app
from services.economy.cli import auction_app, investors_app, supplies_app, wallet_app
from services.ipfs.cli import app as ipfs_app
from services.nft.cli import publish_cmd
from swarm_sim.cli import app as swarm_app
from swarm_sim.mission.cli import app as mission_app
from vision.cli import paint

app = typer.Typer(
    help="gaka: a self-employed robot artist and a Byzantine-robust robot swarm.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which may hold keys or passwords.
    pretty_exceptions_enable=False,
)
app.add_typer(robot_app, name="robot")
# The API and dashboard are served by the daemon itself: `gaka serve` is `gaka robot run`.
app.command("serve", help="Run the robot daemon with its REST API and dashboard "
            "(same as `gaka robot run`).")(robot_run)
app.command("paint")(paint)
app.add_typer(chain_app, name="chain")
app.add_typer(ipfs_app, name="ipfs")
app.command("publish")(publish_cmd)
app.add_typer(swarm_app, name="swarm")
app.add_typer(mission_app, name="mission")
app.add_typer(wallet_app, name="wallet")
app.add_typer(auction_app, name="auction")
app.add_typer(supplies_app, name="supplies")
app.add_typer(investors_app, name="investors")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gaka {importlib.metadata.version('gaka')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print gaka's version and exit."),
) -> None:
    """gaka: a self-employed robot artist and a Byzantine-robust robot swarm."""


config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show() -> None:
    """Print the effective config (TOML file + GAKA_* env), secrets masked."""
    typer.echo(json.dumps(Settings().public_view(), indent=2))


def main(argv: list[str] | None = None) -> None:
    """Run the app; every failure is one `error:` line on stderr and a non-zero exit."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if args and "--help" not in args and "--version" not in args:
            # Every command refuses a broken configuration, whether it reads the settings or
            # not: a mistake in the file must not wait for the one command that reads it.
            Settings()
            for warning in unknown_env_warnings(os.environ):
                print(f"warning: {warning}", file=sys.stderr)
        code = app(args=args, prog_name="gaka", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: bad option, bad value, missing arg
        # `gaka` or `gaka chain` alone: the help, which was printed as the error was made.
        if type(exc).__name__ != "NoArgsIsHelpError":
            print(f"error: {_one_line(exc.format_message())}", file=sys.stderr)
        code = exc.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        code = 1
    except GakaError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        code = 1
    except ValidationError as exc:
        print(f"error: invalid configuration: {describe_errors(exc)}", file=sys.stderr)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())
