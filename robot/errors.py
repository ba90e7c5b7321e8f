"""Errors raised by the robot package; each message says what went wrong and where."""

from __future__ import annotations

from gaka.errors import GakaError


class RobotError(GakaError):
    """Base of every error the robot package raises on bad input or a failed device."""


class ArmConfigError(RobotError):
    """An arm configuration file is missing, malformed or inconsistent."""


class KinematicsError(RobotError):
    """A pose or joint vector cannot be realised by the arm."""


class UnreachableError(KinematicsError):
    """The pose lies outside the arm's workspace (no inverse kinematics solution)."""


class JointLimitError(KinematicsError):
    """Solutions exist, but every one of them violates a joint limit."""


class ContinuityError(KinematicsError):
    """Neighbouring waypoints need a joint jump (a wrist or elbow flip)."""


class CalibrationError(RobotError):
    """A calibration is refused (degenerate points, large residual) or unreadable."""


class TrajectoryError(RobotError):
    """A stroke plan cannot be turned into arm motions (outside canvas, bad brush)."""


class FilmError(RobotError):
    """The video file cannot be written or read back."""


class ArmConnectionError(RobotError):
    """The arm's port is dead, or is not the arm it should be."""


class PortLostError(ArmConnectionError):
    """The serial port went away mid-program; `last_acked` says where to resume."""

    def __init__(self, message: str, last_acked: int) -> None:
        super().__init__(message)
        self.last_acked = last_acked


class GrblError(RobotError):
    """The firmware rejected a line (`error:N`)."""

    def __init__(self, message: str, line_index: int, code: int, last_acked: int) -> None:
        super().__init__(message)
        self.line_index = line_index
        self.code = code
        self.last_acked = last_acked


class GrblAlarm(RobotError):
    """The firmware raised an alarm (`ALARM:N`); motion stopped, unlock or home to go on."""

    def __init__(self, message: str, code: int, last_acked: int) -> None:
        super().__init__(message)
        self.code = code
        self.last_acked = last_acked
