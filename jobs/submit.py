"""``sftforge submit``: run a job on a Ray cluster through the Ray Jobs API.

The config travels in the job's ``runtime_env`` working dir (a temporary folder holding ``job.yaml``, the
config with the command line's overrides applied and its relative paths made absolute), so the job reads
exactly what was validated here, whatever the head's filesystem holds. The submission id is
``sftforge-<release>``: Ray refuses a second job with the same id, so one night cannot be submitted twice
while it runs; a finished night is submitted again with ``--rerun`` (``sftforge-<release>-r2``, ...).
Without ``--no-wait`` the job's logs are streamed to the terminal and the exit code follows the job's
final status.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

EXIT_FAILED = 1
EXIT_USAGE = 2
#: File name of the config inside the job's working dir.
CONFIG_NAME = "job.yaml"
_TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
_IGNORED = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache")


class SubmitError(Exception):
    """The job cannot be submitted; the message says why."""


def add_parser(commands) -> argparse.ArgumentParser:
    """Registers ``sftforge submit`` on the CLI's subcommands."""
    submit = commands.add_parser("submit", help="run a job on a Ray cluster through the Ray Jobs API")
    submit.add_argument("config", help="the job's YAML config")
    submit.add_argument("--address", required=True,
                        help="the cluster's Ray Jobs API (dashboard) address, e.g. http://head-svc:8265")
    submit.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override a config value (repeatable)")
    submit.add_argument("--refresh", action="store_true",
                        help="run as a nightly refresh (see `sftforge run --refresh`)")
    submit.add_argument("--date", default=None, metavar="YYYY-MM-DD",
                        help="the refresh's date, which names the release (default: today, UTC)")
    submit.add_argument("--working-dir", default=None, metavar="DIR",
                        help="a folder to ship with the config (custom models, seed files)")
    submit.add_argument("--no-wait", action="store_true", help="submit and return without waiting")
    submit.add_argument("--rerun", action="store_true",
                        help="submit a release whose earlier submission has finished, under a new id")
    submit.set_defaults(handler=main)
    return submit


def main(args: argparse.Namespace) -> int:
    """Handler of ``sftforge submit``; returns the process exit code."""
    from sftforge.jobs.config import load_config
    from sftforge.jobs.refresh.dates import release_for_date

    config = load_config(args.config, list(args.set))
    if args.refresh:
        release = release_for_date(args.date)
    elif args.date:
        raise SubmitError("--date is for --refresh runs; set the release id with --set release=ID")
    else:
        release = config.release_id()
    client = _client(args.address)
    submission_id = choose_submission_id(client, release, rerun=args.rerun)
    entrypoint = ["sftforge", "run", CONFIG_NAME]
    entrypoint += ["--refresh", "--date", release] if args.refresh else ["--set", f"release={release}"]
    with tempfile.TemporaryDirectory(prefix="sftforge-submit-") as tmp:
        working_dir = package_working_dir(config, Path(tmp) / "job", args.working_dir)
        client.submit_job(
            entrypoint=shlex.join(entrypoint),
            submission_id=submission_id,
            runtime_env={"working_dir": str(working_dir)},
            metadata={"sftforge_release": release, "sftforge_config": str(Path(args.config).resolve())},
        )
    print(f"submitted {submission_id} (release {release}) to {args.address}", flush=True)
    if args.no_wait:
        return 0
    status = follow(client, submission_id)
    print(f"{submission_id}: {status}", file=sys.stderr if status != "SUCCEEDED" else sys.stdout, flush=True)
    return 0 if status == "SUCCEEDED" else EXIT_FAILED


def _client(address: str):
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise SubmitError(f"cannot reach the Ray Jobs API at {address}: {exc}") from None


def choose_submission_id(client, release: str, rerun: bool = False) -> str:
    """``sftforge-<release>``; refused while a job with that id exists, unless ``rerun`` and it finished.

    Raises:
        SubmitError: The release is being submitted or run already, or ran already without ``rerun``.
    """
    base = f"sftforge-{release}"
    taken = {job.submission_id: str(job.status.value) for job in client.list_jobs() if job.submission_id}
    running = [sid for sid in taken if _same_release(sid, base) and taken[sid] not in _TERMINAL]
    if running:
        raise SubmitError(f"release {release} is already submitted ({running[0]}: {taken[running[0]]}); "
                          "refusing an overlapping run")
    if base not in taken:
        return base
    if not rerun:
        raise SubmitError(f"{base} was submitted before ({taken[base]}); pass --rerun to run it again")
    attempt = 2
    while f"{base}-r{attempt}" in taken:
        attempt += 1
    return f"{base}-r{attempt}"


def _same_release(submission_id: str, base: str) -> bool:
    rest = submission_id.removeprefix(base)
    return submission_id.startswith(base) and (rest == "" or (rest.startswith("-r") and rest[2:].isdigit()))


def package_working_dir(config, target: Path, source_dir: str | None = None) -> Path:
    """Builds the job's working dir at ``target``: ``source_dir``'s files (if any) and ``job.yaml``."""
    if source_dir:
        shutil.copytree(source_dir, target, ignore=_IGNORED, symlinks=True)
    else:
        target.mkdir(parents=True)
    # The validated config, with every default spelt out: the job runs exactly what was checked here.
    data = config.model_dump(mode="json")
    (target / CONFIG_NAME).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


def follow(client, submission_id: str, poll_seconds: float = 1.0) -> str:
    """Streams the job's logs to stdout until it ends; returns its final status."""

    async def tail() -> None:
        async for lines in client.tail_job_logs(submission_id):
            sys.stdout.write(lines)
            sys.stdout.flush()

    try:
        asyncio.run(tail())
    except Exception as exc:  # the log stream is a convenience; the status below decides
        print(f"sftforge submit: log stream ended early ({exc}); polling the job's status", file=sys.stderr)
    while True:
        status = str(client.get_job_status(submission_id).value)
        if status in _TERMINAL:
            return status
        time.sleep(poll_seconds)
