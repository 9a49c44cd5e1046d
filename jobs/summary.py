"""The short funnel printed at the end of a run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_summary(result, console: Console | None = None) -> None:
    """Prints where the release is and how many rows each stage kept and rejected."""
    console = console or Console()
    accounting = result.accounting
    console.print(f"[bold]release[/bold] {result.release_id}: {result.release_dir}")
    table = Table(title="funnel", show_edge=False)
    table.add_column("stage")
    table.add_column("rows in", justify="right")
    table.add_column("kept", justify="right")
    table.add_column("rejected", justify="right")
    for stage in accounting.stages:
        table.add_row(stage.stage, str(stage.rows_in), str(stage.kept), str(stage.rejected))
    console.print(table)
    augment = (result.report or {}).get("augment")
    if augment:
        methods = ", ".join(f"{name} {rows}" for name, rows in augment.get("rows_by_method", {}).items())
        dead = sum(sum(info.get("dead_lettered", {}).values()) for info in augment.get("methods", {}).values())
        console.print(f"augment: generated {augment.get('rows_generated', 0)} rows ({methods}); "
                      f"{dead} generations dead-lettered; generated rows then went through the stages above")
    console.print(
        f"rows read {accounting.rows_read} + generated {accounting.rows_generated} = "
        f"written {accounting.rows_written} + rejected {accounting.rows_rejected}"
    )
