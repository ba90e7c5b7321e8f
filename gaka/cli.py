"""The `gaka` console script: one Typer app assembling each package's commands."""

from __future__ import annotations

import json
import sys

import typer
from pydantic import ValidationError

from gaka.config import Settings
from gaka.errors import GakaError
from robot.cli import app as robot_app
from services.chain.cli import app as chain_app
from swarm_sim.cli import app as swarm_app
from vision.cli import paint

app = typer.Typer(
    help="gaka: a self-employed robot artist and a Byzantine-robust robot swarm.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which may hold keys or passwords.
    pretty_exceptions_enable=False,
)
app.add_typer(robot_app, name="robot")
app.command("paint")(paint)
app.add_typer(chain_app, name="chain")
app.add_typer(swarm_app, name="swarm")

config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show() -> None:
    """Print the effective config (TOML file + GAKA_* env), secrets masked."""
    typer.echo(json.dumps(Settings().public_view(), indent=2))


def _later(name: str, what: str) -> typer.Typer:
    group = typer.Typer(help=f"{what} (arrives with the economy/daemon wave).")

    @group.callback(invoke_without_command=True)
    def _pending(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            typer.echo(f"error: `gaka {name}` is not implemented yet: {what.lower()}.", err=True)
            raise typer.Exit(2)

    return group


for _name, _what in [
    ("wallet", "Wallet balance and ledger of the robot"),
    ("auction", "Auction status and settlement"),
    ("supplies", "Paint and canvas stock, supply orders"),
    ("mission", "Secret Merkle missions"),
    ("serve", "REST API and web dashboard"),
]:
    app.add_typer(_later(_name, _what), name=_name)


def main(argv: list[str] | None = None) -> None:
    """Run the app; every failure is one `error:` line on stderr and a non-zero exit."""
    try:
        code = app(args=argv, prog_name="gaka", standalone_mode=False)
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
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: invalid configuration: {errors}", file=sys.stderr)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())
