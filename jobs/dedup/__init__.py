"""Deduplication of a whole Ray Dataset: exact hashes and MinHash LSH, grouped with shuffles.

``apply_dedup(ds, config)`` takes the job's Dataset (live rows, and rows an earlier stage rejected) and
returns the same rows, each live one kept or rejected by ``dedup.exact`` / ``dedup.near`` with a reason
naming the kept row, and every live row labelled with its ``cluster_id`` (the kept row's ``doc_id``) so
that the split keeps a cluster on one side.

No step gathers the data on the driver; every grouping is a shuffle of narrow key rows (``shuffle.py``):

1. keys (``keys.py``): per live row, a node id (digest of ``doc_id`` and lineage), the rank fields, the
   normalised-text hash and the MinHash signature, in ``map_batches``.
2. exact (``exact.py``): shuffle on the hash; the best row of each hash group survives.
3. pairs (``near.py``): the survivors' LSH band keys, shuffled on the key; each bucket of two or more
   rows yields candidate pairs (node ids only).
4. checks: the pairs' rows' signatures (picked by broadcasting the pairs, or co-grouped when there are
   many), then the pairs co-grouped on one end and on the other to compare estimated Jaccard.
5. clusters (``components.py``): connected components of the checked edges, by distributed large-star
   / small-star rounds, or in one task when the edges are few.
6. survivors: cluster members shuffled on their component; the best row by the keep rule survives.
7. decisions (``decisions.py``): one row per dropped row, joined back by broadcast when few, else by a
   shuffle on the node id.

Every choice depends on the rows alone (ranks end in the node id), never on block layout or worker
count. Steps whose input is small (``single_task_rows``) run as one task with the same functions, which
gives the same result without the shuffles' scheduling cost. Earlier releases' indexes (``index.py``)
join steps 2-6 as pinned rows that outrank every new row and are never output.
"""

from sftforge.jobs.dedup.index import DedupIndexError, check_index, write_dedup_index
from sftforge.jobs.dedup.report import DedupSummary, dedup_report_section
from sftforge.jobs.dedup.workflow import DedupRun, apply_dedup, run_dedup
from sftforge.operators.dedup.config import DedupConfig

__all__ = [
    "DedupConfig",
    "DedupIndexError",
    "DedupRun",
    "DedupSummary",
    "apply_dedup",
    "check_index",
    "dedup_report_section",
    "run_dedup",
    "write_dedup_index",
]
