"""The exceptions evalkit raises on purpose.

    EvalkitError            base class; the CLI prints ``str(err)`` on one line, no traceback
    ├── InputError          bad user data: names the file, the line (1-based) and the field
    ├── ConfigError         bad or missing configuration (evalkit.toml, unknown names)
    ├── BackendError        an endpoint could not give an answer after all retries
    └── StoreError          the store cannot be opened or written (URL passwords masked)

Anything else escaping evalkit is a bug.
"""

from __future__ import annotations


class EvalkitError(Exception):
    """Base class for errors evalkit reports to the user without a traceback."""


class InputError(EvalkitError):
    """Bad input data, located precisely: ``file:line: field: message``."""

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"field '{self.field}': " if self.field else ""
        return f"{where}{field}{self.message}".replace("\n", " ")


class ConfigError(EvalkitError):
    """Bad or missing configuration."""


class BackendError(EvalkitError):
    """A request to a model endpoint failed for good (after retries)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        self.status = status
        self.retryable = retryable
        super().__init__(message)


class StoreError(EvalkitError):
    """The store cannot be opened or written: a missing or read-only file, a file that is not
    an evalkit store, a bad URL, a missing driver, an unreachable server (URL passwords
    masked)."""
