"""The ``sftforge`` command: validate, run, demo, inspect.

Exit codes: 0 success, 1 the run failed (bad input file, accounting mismatch, ...), 2 the config or the
command line is wrong.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

EXIT_FAILED = 1
EXIT_USAGE = 2


def _print_error(message: str) -> None:
    print(f"sftforge: error: {message}", file=sys.stderr)


def _load(path: str, overrides: Sequence[str]):
    from sftforge.jobs.config import load_config

    return load_config(path, list(overrides))


def _cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args.config, args.set)
    stages = [name for name in type(config).model_fields if getattr(config, name) is not None]
    print(f"{args.config}: valid ({len(config.inputs)} input(s); sections: {', '.join(stages)})")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sftforge.jobs.pipeline import run_job
    from sftforge.jobs.summary import print_summary

    config = _load(args.config, args.set)
    # Named in a failure's line (jobs.errors): where a write failed, and whose releases are untouched.
    args.output_dir = config.output.dir
    if args.refresh:
        from sftforge.jobs.refresh import run_refresh

        result = run_refresh(config, date=args.date, config_source=os.path.abspath(args.config))
    elif args.date:
        from sftforge.jobs.config import ConfigError

        raise ConfigError("--date names a --refresh run; set a release id with --set release=ID")
    else:
        result = run_job(config, config_source=os.path.abspath(args.config), force=args.force)
    print_summary(result)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from sftforge.jobs.demo import run_demo

    run_demo(args.output, overrides=args.set)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from sftforge.jobs.inspect_release import ReleaseNotFound, inspect_release

    try:
        inspect_release(args.release, samples=args.samples)
    except ReleaseNotFound as exc:
        _print_error(str(exc))
        return EXIT_USAGE
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sftforge")
    except PackageNotFoundError:
        return "unknown"


def _verbosity(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """-v / -q, on the main parser and on every subcommand, so they are accepted before or after it."""
    default = argparse.SUPPRESS if suppress else False
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", default=default, help="log progress details")
    group.add_argument("-q", "--quiet", action="store_true", default=default, help="log errors only")


class _Subcommands(argparse._SubParsersAction):
    """Adds -v / -q to every subcommand."""

    def add_parser(self, name, **kwargs):
        parser = super().add_parser(name, **kwargs)
        _verbosity(parser, suppress=True)
        return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sftforge",
        description="Turn raw corpora and instruction data into clean, deduplicated SFT datasets on Ray.",
    )
    parser.add_argument("--version", action="version", version=f"sftforge {_version()}")
    _verbosity(parser, suppress=False)
    parser.register("action", "parsers", _Subcommands)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a job config without running it")
    validate.add_argument("config", help="the job's YAML config")
    validate.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                          help="override a config value (repeatable)")
    validate.set_defaults(handler=_cmd_validate)

    run = commands.add_parser("run", help="run a job and publish its release")
    run.add_argument("config", help="the job's YAML config")
    run.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a config value (repeatable)")
    run.add_argument("--force", action="store_true",
                     help="publish even when output.min_rows / output.max_shrink refuse the release")
    run.add_argument("--refresh", action="store_true",
                     help="nightly refresh: process new and changed input files, carry the others' rows over")
    run.add_argument("--date", default=None, metavar="YYYY-MM-DD",
                     help="with --refresh: the night, which names the release (default: today, UTC)")
    run.set_defaults(handler=_cmd_run)

    demo = commands.add_parser("demo", help="run the whole pipeline on the bundled demo corpus")
    demo.add_argument("--output", default="sftforge-demo", help="folder for the demo's inputs and release")
    demo.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                      help="override a value of the demo's config (repeatable)")
    demo.set_defaults(handler=_cmd_demo)

    inspect = commands.add_parser("inspect", help="print a release's funnel, splits and sample records")
    inspect.add_argument("release", help="a release folder, or output.dir for its LATEST release")
    inspect.add_argument("-n", "--samples", type=int, default=3, help="records shown per split (default 3)")
    inspect.set_defaults(handler=_cmd_inspect)
    from sftforge.jobs import diff, submit

    submit.add_parser(commands)
    diff.add_parser(commands)

    from sftforge.jobs import train_quality

    train = commands.add_parser("train-quality", help="train the fastText quality classifier (quality.classifier)")
    train_quality.add_arguments(train)
    train.set_defaults(handler=train_quality.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sftforge`` console script."""
    from sftforge.jobs.errors import run_handled

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose and args.quiet:
        parser.error("-v and -q cannot be used together")
    level = logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Every failure ends as one line (what, where, what is untouched) and a log file (jobs.errors).
    return run_handled(args.handler, args, verbose=args.verbose)


def console() -> None:
    """The ``sftforge`` console script: ``main``, then a quick stop of a Ray the command started."""
    code = main()
    ray_start = sys.modules.get("sftforge.jobs.ray_start")  # loaded by the commands that start Ray
    if ray_start is None:
        sys.exit(code)
    ray_start.exit_process(code)


if __name__ == "__main__":
    console()
