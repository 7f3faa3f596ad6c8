"""Exception types that the CLI turns into clean messages and exit codes."""

from __future__ import annotations


class ZcellsInputError(Exception):
    """Bad input (file, column, rows, config or option); the CLI exits with code 2.

    The message must say what is wrong and where: the file, the column and the rows
    concerned, so that a user can fix the input without reading a traceback.
    """


class ArtifactsError(Exception):
    """An artifacts folder is missing, incomplete, corrupt or of another schema version."""
