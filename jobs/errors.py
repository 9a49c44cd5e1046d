"""One line per failure: what failed, where, what is untouched, and the log file with the full traceback.

The CLI calls ``run_handled``; every exception it can meet ends as one ``sftforge: error:`` line and an
exit code (2 for usage and config, 1 for everything else). The full traceback (Ray's wrappers included)
goes to a log file under ``$SFTFORGE_LOG_DIR`` (default: ``<tmp>/sftforge-logs``) and, with ``-v``, to
stderr as well.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

EXIT_FAILED = 1
EXIT_USAGE = 2
LOG_DIR_ENV = "SFTFORGE_LOG_DIR"
#: What a failed run leaves as it was: the writer publishes only after every check passed.
UNTOUCHED = "nothing was published; earlier releases and LATEST are untouched"


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message (without the log path) and the exit code for a failure."""
    import yaml
    from sftforge.jobs.accounting import AccountingError
    from sftforge.jobs.config import ConfigError
    from sftforge.jobs.read import unwrap_error
    from sftforge.operators.read.errors import InputError

    cause = unwrap_error(exc)
    if isinstance(cause, ConfigError):
        return f"config: {_config_lines(cause)}", EXIT_USAGE
    if isinstance(cause, yaml.YAMLError):
        return f"config: not valid YAML ({_one_line(cause)})", EXIT_USAGE
    if isinstance(cause, InputError):
        return f"input: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED
    if isinstance(cause, AccountingError):
        return f"accounting: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED
    name = type(cause).__name__
    if name == "ShrinkGuardError":
        return f"guard: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED
    if name == "RefreshError":
        return f"refresh: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED
    if name == "SubmitError":
        return f"submit: {_one_line(cause)}", EXIT_FAILED
    if name == "ReleaseError":
        return f"release: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED
    if name in ("EndpointUnavailable", "LocalModelError"):
        return f"endpoint: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED
    if name == "EndpointOutage":
        return f"endpoint: {_one_line(cause)} (an outage, not a verdict on the data); {UNTOUCHED}", EXIT_FAILED
    if name == "StageError":
        return f"stage: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED
    if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {cause.filename}" if cause.filename else ""
        return f"disk full{where} ({cause.strerror}); {UNTOUCHED}", EXIT_FAILED
    if isinstance(cause, OSError) and cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = f" on {cause.filename}" if cause.filename else ""
        return f"permission denied{where} ({cause.strerror}); {UNTOUCHED}", EXIT_FAILED
    if _from_ray_start(cause):
        return f"Ray did not start or connect: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED
    return f"unexpected {name}: {_one_line(cause)}; {UNTOUCHED}", EXIT_FAILED


def run_handled(handler: Callable[[Any], int], args: Any, verbose: bool = False) -> int:
    """Runs a CLI command; turns any failure into one stderr line and an exit code."""
    try:
        return handler(args)
    except KeyboardInterrupt:
        print(f"sftforge: interrupted; {UNTOUCHED}", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure ends as one line; the log keeps the rest
        message, code = describe(exc)
        details = "".join(traceback.format_exception(exc))
        if verbose:
            print(details, file=sys.stderr, end="")
        log = write_log(details)
        suffix = f" (full traceback: {log})" if log else ""
        first, _, problems = message.partition("\n")  # several config problems: one line each, after
        print(f"sftforge: error: {first}{suffix}" + (f"\n{problems}" if problems else ""), file=sys.stderr)
        return code


def write_log(text: str) -> str | None:
    """Writes ``text`` to a new log file and returns its path (None when no log can be written)."""
    folder = os.environ.get(LOG_DIR_ENV) or os.path.join(tempfile.gettempdir(), "sftforge-logs")
    name = f"sftforge-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    try:
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8", errors="replace") as handle:
            handle.write(text)
    except OSError:
        return None  # a full disk must not hide the error it is about
    return path


def _config_lines(exc: BaseException) -> str:
    """One line for one problem; a heading and one line per problem (each naming its key) for several."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) == 2:
        return f"{lines[0].rstrip(':')}: {lines[1]}"
    return "\n  ".join(lines)


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def _from_ray_start(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(
        ("ray/_private/node.py" in frame.filename or "ray/_private/services.py" in frame.filename)
        or (frame.name == "init" and "ray/_private/worker.py" in frame.filename)
        for frame in frames
    ) or isinstance(exc, ConnectionError) and "ray" in str(exc).lower()
