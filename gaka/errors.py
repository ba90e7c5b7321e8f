"""Root of the project's exceptions: the CLI prints these as one line, never a traceback."""


class GakaError(Exception):
    """An error whose message is meant for the user and carries no secret."""
