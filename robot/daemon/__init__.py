"""The robot daemon: the painting cycle as a crash-safe state machine over a SQLite journal."""
