"""The guard against wiping a release: a run that would publish too few rows fails without publishing.

Checked after the rows are written and accounted, before ``publish``: fewer rows (SFT records plus
documents) than ``output.min_rows``, or, when ``output.max_shrink`` is set, fewer than that fraction of the
previous release's rows (the one ``LATEST`` names). ``sftforge run --force`` publishes anyway.
"""

from __future__ import annotations

import json
from pathlib import Path


class ShrinkGuardError(Exception):
    """The release would hold too few rows; nothing was published. The message gives both counts."""


def previous_rows(output_dir: str | Path) -> tuple[str, int] | None:
    """``(release id, rows written)`` of the release ``LATEST`` names, or None when there is none."""
    root = Path(output_dir)
    try:
        release = (root / "LATEST").read_text(encoding="utf-8").strip()
        manifest = json.loads((root / release / "manifest.json").read_text(encoding="utf-8"))
        return release, int(manifest["accounting"]["rows_written"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_rows(rows: int, min_rows: int, max_shrink: float | None, output_dir: str | Path,
               release_id: str) -> None:
    """Raises ShrinkGuardError when ``rows`` is below ``min_rows`` or shrinks past ``max_shrink``."""
    if rows < min_rows:
        raise ShrinkGuardError(
            f"release {release_id} would hold {rows} rows, fewer than output.min_rows={min_rows}; "
            "use --force to publish it anyway"
        )
    if max_shrink is None:
        return
    previous = previous_rows(output_dir)
    if previous is None:
        return
    previous_id, previous_count = previous
    if previous_id != release_id and rows < max_shrink * previous_count:
        raise ShrinkGuardError(
            f"release {release_id} would hold {rows} rows, fewer than output.max_shrink={max_shrink:g} of "
            f"the {previous_count} rows of {previous_id} (LATEST); use --force to publish it anyway"
        )
