"""The daemon's configuration keys, on top of gaka's (same TOML file, same GAKA_ env)."""

from __future__ import annotations

from pydantic import Field

from gaka.config import Settings


class DaemonSettings(Settings):
    """The daemon's own keys (auctions, repayments and supplies are the economy's keys in
    Settings); each can be set in TOML or as GAKA_<KEY>."""

    api_host: str = Field("127.0.0.1", description="address the API binds to")
    api_port: int = Field(8600, description="port of the API and dashboard")
    camera: str = Field("sim", description="'sim' or a capture source: camera:0, a folder, a file")
    arm: str = Field("sim", description="'sim' or 'gcode'")
    arm_port: str | None = Field(None, description="serial port of the G-code arm")
    arm_config: str = Field("kuka_kr6_r900", description="arm config name or TOML file")
    plan_strokes: int = Field(40, description="strokes per painting")
    plan_size: int = Field(48, description="planning resolution, px on the longer side")
    plan_iterations: int = Field(12, description="optimiser iterations per stage")
    film_width: int = Field(320, description="film width, px")
    film_height: int = Field(240, description="film height, px")
    film_speedup: float = Field(60.0, description="arm seconds per film second")
    sim_market: bool | None = Field(
        None, description="simulated collectors, shop and investors; default: on dev chains")
