"""Effective configuration: defaults < TOML file < GAKA_* environment variables."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gaka.errors import GakaError
from gaka.net import redact_url

NETWORKS = ("embedded", "revm", "localhost", "sepolia")
ENV_ONLY = {"env_only": True}


SUPPLY_KINDS = ("canvas", "brush", "paint")
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def _is_supply(name: str) -> bool:
    """canvas, brush or paint:<name> (one stock entry per paint)."""
    kind, _, paint = name.partition(":")
    return name in ("canvas", "brush") or (kind == "paint" and bool(paint))


def _check_table(value: dict[str, Any], known: Any) -> dict[str, Any]:
    """A supplies table: known keys (a typo would silently disable a rule), no negatives."""
    unknown = sorted(k for k in value if not known(k))
    if unknown:
        raise ValueError(f"unknown supply {', '.join(map(repr, unknown))} (canvas, brush, "
                         "paint" + (":<name>" if known is _is_supply else "") + ")")
    negative = sorted(k for k, v in value.items() if v < 0)
    if negative:
        raise ValueError(f"{', '.join(negative)} must be 0 or more")
    return value


class ConfigError(GakaError):
    """The config file or a GAKA_* variable is unreadable, unknown or invalid."""


def default_data_dir() -> Path:
    """Per-user data directory (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gaka"


def default_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gaka" / "config.toml"


def config_path() -> tuple[Path, bool]:
    """The TOML file named by GAKA_CONFIG (which must exist), or the per-user default (which
    may not); the flag says whether the file must exist."""
    named = os.environ.get("GAKA_CONFIG")
    return (Path(named), True) if named else (default_config_file(), False)


def read_config_file(path: Path, required: bool,
                     settings_cls: type[BaseSettings]) -> dict[str, Any]:
    """The TOML file's keys; unknown keys and env-only secrets are refused."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} (GAKA_CONFIG) does not exist; create it, "
                              "or unset GAKA_CONFIG to use the defaults") from None
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    fields = settings_cls.model_fields
    unknown = sorted(set(data) - set(fields))
    if unknown:
        hints = [f"{key} (did you mean {close[0]}?)" if (close := get_close_matches(key, fields))
                 else key for key in unknown]
        raise ConfigError(f"config file {path}: unknown key(s) {', '.join(hints)}; "
                          "`gaka config show` lists every key")
    for name in data:
        if (fields[name].json_schema_extra or {}).get("env_only"):
            raise ConfigError(
                f"config file {path}: {name} is a secret and is read only from the "
                f"environment (GAKA_{name.upper()}); remove it from the file"
                + (" or use keystore_password_file" if name == "keystore_password" else ""))
    return _relative_to(path.parent, data, settings_cls)


def _relative_to(folder: Path, data: dict[str, Any],
                 settings_cls: type[BaseSettings]) -> dict[str, Any]:
    """Relative paths in the file name places beside the file, wherever gaka is started."""
    out = dict(data)
    for name, value in data.items():
        if (isinstance(value, str) and "Path" in str(settings_cls.model_fields[name].annotation)
                and not Path(value).expanduser().is_absolute()):
            out[name] = str(folder.absolute() / value)
    return out


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the config file (see config_path)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data = read_config_file(*config_path(), settings_cls=settings_cls)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


# Settings holding a URL: a hosted node's API key or a user:password may sit in one.
_URL_SETTINGS = frozenset({"rpc_url", "sepolia_rpc_url", "localhost_rpc_url", "ipfs_api"})


class Settings(BaseSettings):
    """Every config key of gaka; each can be set in TOML or as GAKA_<KEY>."""

    model_config = SettingsConfigDict(env_prefix="GAKA_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="journal, chain, media")
    network: str = Field("embedded", description="embedded | revm | localhost | sepolia")
    rpc_url: str | None = Field(None, description="JSON-RPC URL; overrides the network's default")
    sepolia_rpc_url: str | None = Field(None, description="RPC URL used for --network sepolia")
    localhost_rpc_url: str = Field("http://127.0.0.1:8545", description="Hardhat node URL")
    keystore: Path | None = Field(None, description="encrypted eth-account keystore file")
    keystore_password: SecretStr | None = Field(
        None, description="keystore password (environment only)", json_schema_extra=ENV_ONLY)
    keystore_password_file: Path | None = Field(None, description="file holding the password")
    rpc_timeout_s: float = Field(10.0, gt=0, description="per-request RPC timeout")
    receipt_timeout_s: float = Field(120.0, gt=0, description="how long to wait for a receipt")
    log_chunk_blocks: int = Field(
        2000, gt=0, description="blocks per eth_getLogs request (halved while a node refuses "
                                "it) and per committed step of the economy's chain reader")
    robot_address: str | None = Field(
        None, description="robot wallet; default: dev account 1 on local chains, else the signer"
    )
    deployments_dir: Path | None = Field(
        None, description="where <network>.json records go; default: <data_dir>/deployments")
    ipfs_api: str | None = Field(
        None, description="IPFS node RPC API (e.g. http://127.0.0.1:5001); unset: embedded store"
    )
    ipfs_timeout_s: float = Field(30.0, gt=0, description="per-request timeout of the IPFS node")
    # The economy: auctions, ledger, investors, supplies (see the README's Economy section).
    confirmations: int = Field(0, ge=0, description="blocks behind the head the economy reads")
    auction_reserve_wei: int = Field(10**16, gt=0, description="reserve of a first listing")
    auction_duration_s: int = Field(86_400, gt=0, description="auction length")
    auction_time_buffer_s: int = Field(
        900, gt=0, description="late-bid extension set on local chains the owner key controls")
    auction_relist_max: int = Field(2, ge=0, description="re-listings of an unsold painting")
    auction_relist_discount_bps: int = Field(
        2000, ge=0, le=9999, description="reserve cut per re-listing, basis points")
    repay_share_bps: int = Field(
        5000, ge=0, le=10_000, description="share of each sale's net proceeds repaid")
    repay_interest_bps: int = Field(0, ge=0, description="owed on top of the loans, basis points")
    ledger_royalty_payers: list[str] = Field(
        default_factory=list, description="senders whose plain transfers count as royalties")
    supplies_start: dict[str, float] = Field(
        default_factory=lambda: {"canvas": 5, "brush": 2},
        description="stock when the inventory is created (paint:<name> in ml)")
    supplies_paint_ml_start: float = Field(
        250.0, gt=0, description="stock of a paint the first time a plan uses it, ml")
    supplies_paint_ml_per_mm2: float = Field(
        0.0002, gt=0, description="paint used per mm² painted (length × brush width)")
    supplies_brush_life_m: float = Field(
        50.0, gt=0, description="metres of strokes a brush lasts")
    supplies_thresholds: dict[str, float] = Field(
        default_factory=lambda: {"canvas": 1, "brush": 1, "paint": 60.0},
        description="reorder at or below (paint: ml of any colour)")
    supplies_targets: dict[str, float] = Field(
        default_factory=lambda: {"canvas": 5, "brush": 3, "paint": 250.0},
        description="restock up to")
    supplies_items: dict[str, int] = Field(
        default_factory=lambda: {"canvas": 1, "brush": 2, "paint": 3},
        description="SupplyShop item id per supply kind")
    supplies_paint_unit_ml: float = Field(50.0, gt=0, description="ml in one paint item")
    supplies_max_price_wei: dict[str, int] = Field(
        default_factory=lambda: {"canvas": 15 * 10**15, "brush": 2 * 10**15,
                                 "paint": 4 * 10**15},
        description="most the robot pays per item of a kind (twice the expected price); "
                    "a kind not listed is not capped")
    arm_config: str = Field(
        "kuka_kr6_r900", description="arm config of the workcell: a shipped name or a TOML file"
    )
    paints: str | None = Field(
        None, description="the workcell's paints, #rrggbb,... (default: k-means, one per pot)"
    )
    # The robot daemon (see the README's Robot daemon section).
    api_host: str = Field("127.0.0.1", description="address the API binds to")
    api_port: int = Field(8600, ge=1, le=65535, description="port of the API and dashboard")
    camera: str = Field("sim", description="'sim' or a capture source: camera:0, a folder, a file")
    arm: str = Field("sim", description="the daemon's arm driver: 'sim' or 'gcode'")
    arm_port: str | None = Field(None, description="serial port of the G-code arm")
    plan_strokes: int = Field(40, gt=0, description="strokes per painting")
    plan_size: int = Field(48, gt=0, description="planning resolution, px on the longer side")
    plan_iterations: int = Field(12, gt=0, description="optimiser iterations per stage")
    film_width: int = Field(320, gt=0, description="film width, px")
    film_height: int = Field(240, gt=0, description="film height, px")
    film_speedup: float = Field(60.0, gt=0, description="arm seconds per film second")
    sim_market: bool | None = Field(
        None, description="simulated collectors, shop and investors; default: on dev chains")

    @field_validator("network")
    @classmethod
    def _known_network(cls, value: str) -> str:
        if value not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, not {value!r}")
        return value

    @field_validator("arm")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value not in ("sim", "gcode"):
            raise ValueError(f"the arm driver is 'sim' or 'gcode', not {value!r} (the arm's "
                             "configuration is arm_config)")
        return value

    @field_validator("supplies_start")
    @classmethod
    def _known_supplies(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_table(value, _is_supply)

    @field_validator("supplies_thresholds", "supplies_targets", "supplies_items",
                     "supplies_max_price_wei")
    @classmethod
    def _known_kinds(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_table(value, SUPPLY_KINDS.__contains__)

    @field_validator("paints")
    @classmethod
    def _hex_paints(cls, value: str | None) -> str | None:
        if value is not None:
            bad = [p for p in value.split(",") if not HEX_COLOUR.fullmatch(p.strip())]
            if bad or not value.strip():
                raise ValueError(f"paints are #rrggbb colours separated by commas; "
                                 f"{', '.join(map(repr, bad or [value]))} is not one")
        return value

    @field_validator("robot_address")
    @classmethod
    def _checksummed(cls, value: str | None) -> str | None:
        return None if value is None else checksum_address(value)

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        # A relative path from the environment means the current directory, now: a daemon
        # or a later chdir must not find another place.
        self.data_dir = self.data_dir.expanduser().absolute()
        self.deployments_dir = (self.deployments_dir.expanduser().absolute()
                                if self.deployments_dir else self.data_dir / "deployments")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def public_view(self) -> dict[str, Any]:
        """The settings as plain data, with secrets masked."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                out[name] = "********" if value.get_secret_value() else None
            elif isinstance(value, Path):
                out[name] = str(value)
            elif name in _URL_SETTINGS and value is not None:
                out[name] = redact_url(value)
            else:
                out[name] = value
        return out


def checksum_address(value: str) -> str:
    """An account address in its EIP-55 form. All-lowercase or all-uppercase hex is taken as
    is; mixed case must carry a valid checksum (a typo in it would send funds elsewhere)."""
    from eth_utils import to_checksum_address

    text = value.strip()
    body = text[2:] if text[:2] in ("0x", "0X") else ""
    if len(body) != 40 or not all(c in "0123456789abcdefABCDEF" for c in body):
        raise ValueError(f"{value!r} is not an address (0x and 40 hex digits)")
    checksummed = to_checksum_address("0x" + body.lower())
    if body not in (body.lower(), body.upper()) and "0x" + body != checksummed:
        raise ValueError(f"{value} fails its EIP-55 checksum (mixed case): a digit or "
                         f"letter is wrong; correct it (lowercase hex skips the check)")
    return checksummed


def address_option(value: str | list[str] | None) -> str | list[str] | None:
    """Typer callback for address options (one or repeated): the same check as the config's
    robot_address, reported as a usage error that names the option."""
    import typer

    if value is None:
        return None
    try:
        if isinstance(value, list):
            return [checksum_address(v) for v in value]
        return checksum_address(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    """pydantic's errors on one line: `key: message; …`."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors())


# GAKA_* variables that are not settings: the config file's path, the compiler's switches and
# the test suite's knobs.
_ENV_NOT_SETTINGS = frozenset({"CONFIG", "SOLC_NO_DOWNLOAD", "SOLCJS_DIR", "TEST_KILL_AFTER_SEND",
                               "CRASH_KILLS", "CRASH_SEED", "DASHBOARD_SCREENSHOT"})


def unknown_env_warnings(environ: Mapping[str, str]) -> list[str]:
    """One line per GAKA_* variable that no setting reads (a typo would be silently ignored).
    Names are matched without regard to case, as the settings read them."""
    keys = [name.upper() for name in Settings.model_fields]
    out = []
    for var in sorted(environ):
        if not var.upper().startswith("GAKA_"):
            continue
        key = var.upper().removeprefix("GAKA_")
        if key in keys or key in _ENV_NOT_SETTINGS:
            continue
        close = get_close_matches(key, keys, n=1)
        hint = f" (did you mean GAKA_{close[0]}?)" if close else ""
        out.append(f"{var} is not a gaka setting and is ignored{hint}")
    return out
