"""The index rows a run needs: those sharing an exact hash or a band bucket with a new row (no Ray)."""

from __future__ import annotations

import pyarrow as pa
from sftforge.jobs.dedup.index import _pinned_keys
from sftforge.jobs.dedup.probe import build_probe, matching_rows, probe_part
from sftforge.jobs.dedup.workflow import decide
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.keys import EXACT_HASH, SIGNATURE, extract_keys
from sftforge.operators.dedup.survivor import NODE

from tests.jobs.dedup.test_workflow import _corpus, _replace, _table, _text


def test_only_look_alikes_of_new_rows_are_taken_and_decisions_do_not_change():
    config = DedupConfig(keep="longest")
    old = _corpus("old-", seed=1)
    index = extract_keys(_table(old), config)
    new_rows = [(f"new-{i}", _text(9000 + i)) for i in range(5)]
    new_rows += [("again-exact", old[0][1].upper()), ("again-near", _replace(old[1][1], 50))]
    new = extract_keys(_table(new_rows), config)
    probe = build_probe([probe_part(new.slice(0, 3), config), probe_part(new.slice(3), config)], config)

    stored = index.select([schema.DOC_ID, EXACT_HASH, SIGNATURE])  # an index's rows/*.parquet
    matching = matching_rows(stored, probe, config)
    assert {old[0][0], old[1][0]} <= set(matching.column(schema.DOC_ID).to_pylist())
    assert matching.num_rows < stored.num_rows / 3

    def decisions(pinned: pa.Table) -> list[tuple]:
        keys = pa.concat_tables([new, _pinned_keys(pinned, "idx", config)], promote_options="default")
        table = decide(keys, config)
        return sorted(zip(table.column(NODE).to_pylist(), *(table.column(c).to_pylist()
                                                            for c in table.column_names if c != NODE)))

    assert decisions(matching) == decisions(stored)
    assert len(decisions(stored)) >= 2
