"""Effective configuration: defaults < TOML file < GAKA_* environment variables."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

NETWORKS = ("embedded", "localhost", "sepolia")


def default_data_dir() -> Path:
    """Per-user data directory (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gaka"


def default_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gaka" / "config.toml"


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by GAKA_CONFIG (or the per-user default)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("GAKA_CONFIG") or default_config_file())
        self._data: dict[str, Any] = {}
        if path.is_file():
            with path.open("rb") as fh:
                try:
                    self._data = tomllib.load(fh)
                except tomllib.TOMLDecodeError as exc:
                    raise ValueError(f"config file {path} is not valid TOML: {exc}") from None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Every config key of gaka; each can be set in TOML or as GAKA_<KEY>."""

    model_config = SettingsConfigDict(env_prefix="GAKA_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="journal, chain, media")
    network: str = Field("embedded", description="embedded | localhost | sepolia")
    rpc_url: str | None = Field(None, description="JSON-RPC URL; overrides the network's default")
    sepolia_rpc_url: str | None = Field(None, description="RPC URL used for --network sepolia")
    localhost_rpc_url: str = Field("http://127.0.0.1:8545", description="Hardhat node URL")
    keystore: Path | None = Field(None, description="encrypted eth-account keystore file")
    keystore_password: SecretStr | None = Field(None, description="keystore password (env only)")
    keystore_password_file: Path | None = Field(None, description="file holding the password")
    rpc_timeout_s: float = Field(10.0, description="per-request RPC timeout")
    receipt_timeout_s: float = Field(120.0, description="how long to wait for a receipt")
    robot_address: str | None = Field(
        None, description="robot wallet; default: dev account 1 on local chains, else the signer"
    )
    deployments_dir: Path = Field(Path("deployments"), description="deployments/<network>.json")
    arm: str = Field(
        "kuka_kr6_r900", description="arm config of the workcell: a shipped name or a TOML file"
    )
    paints: str | None = Field(
        None, description="the workcell's paints, #rrggbb,... (default: k-means, one per pot)"
    )

    @field_validator("network")
    @classmethod
    def _known_network(cls, value: str) -> str:
        if value not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, not {value!r}")
        return value

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
            else:
                out[name] = value
        return out
