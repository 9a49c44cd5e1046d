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


def describe(exc: BaseException, output_dir: str | None = None) -> tuple[str, int]:
    """The one-line message (without the log path) and the exit code for a failure.

    Args:
        exc: The failure, as raised (Ray's wrappers are looked through).
        output_dir: The run's ``output.dir``, when known: the place a write without a file name failed
            (Arrow's writers raise ``OSError`` without one) and the folder whose releases are untouched.
    """
    import yaml
    from sftforge.jobs.accounting import AccountingError
    from sftforge.jobs.config import ConfigError
    from sftforge.jobs.read import unwrap_error
    from sftforge.operators.read.errors import InputError

    cause = unwrap_error(exc)
    untouched = (
        f"nothing was published to {output_dir}; earlier releases and LATEST are untouched" if output_dir else UNTOUCHED
    )
    if isinstance(cause, ConfigError):
        return f"config: {_config_lines(cause)}", EXIT_USAGE
    if isinstance(cause, yaml.YAMLError):
        return f"config: not valid YAML ({_one_line(cause)})", EXIT_USAGE
    if isinstance(cause, InputError):
        return f"input: {_one_line(cause)}; {untouched}", EXIT_FAILED
    if isinstance(cause, AccountingError):
        return f"accounting: {_one_line(cause)}; {untouched}", EXIT_FAILED
    name = type(cause).__name__
    if name == "ShrinkGuardError":
        return f"guard: {_one_line(cause)}; {untouched}", EXIT_FAILED
    if name == "RefreshError":
        return f"refresh: {_one_line(cause)}; {untouched}", EXIT_FAILED
    if name == "SubmitError":
        return f"submit: {_one_line(cause)}", EXIT_FAILED
    if name == "ReleaseError":
        return f"release: {_one_line(cause)}; {untouched}", EXIT_FAILED
    if name in ("EndpointUnavailable", "LocalModelError"):
        return f"endpoint: {_one_line(cause)}; {untouched}", EXIT_FAILED
    if name == "EndpointOutage":
        return f"endpoint: {_one_line(cause)} (an outage, not a verdict on the data); {untouched}", EXIT_FAILED
    if name == "StageError":
        return f"stage: {_one_line(cause)}; {untouched}", EXIT_FAILED
    if _from_ray_start(cause):
        # Before the OSError cases: a temp folder Ray cannot create is a failed start, not a failed write.
        problem = (_os_problem(cause, None) if isinstance(cause, OSError) else None) or _one_line(cause)
        return f"Ray did not start or connect: {problem}; nothing was read; {untouched}", EXIT_FAILED
    problem = _os_problem(cause, output_dir) if isinstance(cause, OSError) else None
    if problem:
        return f"{problem}; {untouched}", EXIT_FAILED
    return f"unexpected {name}: {_one_line(cause)}; {untouched}", EXIT_FAILED


def run_handled(handler: Callable[[Any], int], args: Any, verbose: bool = False) -> int:
    """Runs a CLI command; turns any failure into one stderr line and an exit code."""
    try:
        return handler(args)
    except KeyboardInterrupt:
        print(f"sftforge: interrupted; {UNTOUCHED}", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure ends as one line; the log keeps the rest
        message, code = describe(exc, getattr(args, "output_dir", None))
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


def _os_problem(exc: OSError, output_dir: str | None) -> str | None:
    """``disk full writing X (...)`` or ``permission denied on X (...)``; None for other OS errors."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = exc.filename or (f"into {output_dir}" if output_dir else None)
        return f"disk full{f' writing {where}' if where else ''} ({exc.strerror})"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied{f' on {exc.filename}' if exc.filename else ''} ({exc.strerror})"
    return None


def _config_lines(exc: BaseException) -> str:
    """One line for one problem; a heading and one line per problem (each naming its key) for several."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) == 2:
        return f"{lines[0].rstrip(':')}: {lines[1]}"
    return "\n  ".join(lines)


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    parts = [part.strip() for part in text.splitlines() if part.strip()]
    # A heading ("row accounting failed:") runs on into its first item; the items are separated by "; ".
    return "; ".join(parts).replace(":; ", ": ")


def _from_ray_start(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(
        ("ray/_private/node.py" in frame.filename or "ray/_private/services.py" in frame.filename)
        or (frame.name == "init" and "ray/_private/worker.py" in frame.filename)
        for frame in frames
    ) or isinstance(exc, ConnectionError) and "ray" in str(exc).lower()
