import numpy as np
import pyarrow as pa
import pytest
from sftforge.jobs.dedup.components import SRC, edges_table, label_components, large_star, small_star
from sftforge.jobs.dedup.shuffle import view
from sftforge.operators.dedup.hashing import partition_of


def _simulated_rounds(edges: pa.Table, partitions: int) -> dict[bytes, bytes]:
    """Large-star / small-star exactly as the shuffles run them: rows split by the hash of SRC."""

    def by_partition(table: pa.Table, fn) -> pa.Table:
        parts = partition_of(view(table, SRC), partitions)
        outputs = [fn(table.filter(pa.array(parts == p))) for p in range(partitions) if (parts == p).any()]
        return pa.concat_tables(outputs)

    current = edges
    for _ in range(64):
        both = pa.concat_tables(
            [current, current.rename_columns(current.column_names[::-1]).select(current.column_names)]
        )
        large = by_partition(both, large_star)
        small = by_partition(large.select(current.column_names), small_star)
        current = small.select(edges.column_names)
        if not (np.sum(large.column(2).to_numpy()) + np.sum(small.column(2).to_numpy())):
            break
    labels = {}
    for source, target in zip(current.column(0).to_pylist(), current.column(1).to_pylist()):
        labels[source] = target
        labels[target] = target
    return labels


def _brute_force(sources: np.ndarray, targets: np.ndarray) -> dict[bytes, bytes]:
    """Smallest node of each node's component, by repeated relaxation."""
    # numpy strips an S16 value's trailing zero bytes; Arrow keeps all 16.
    pairs = [(a.ljust(16, b"\0"), b.ljust(16, b"\0")) for a, b in zip(sources.tolist(), targets.tolist())]
    label = {node: node for pair in pairs for node in pair}
    changed = True
    while changed:
        changed = False
        for a, b in pairs:
            low = min(label[a], label[b])
            if label[a] != low or label[b] != low:
                label[a] = label[b] = low
                changed = True
    return label


def _random_graph(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = np.array([rng.bytes(16) for _ in range(300)], dtype="S16")
    # A long path (many rounds), random small components and a star.
    pairs = [(ids[i], ids[i + 1]) for i in range(60)]
    pairs += [tuple(ids[rng.integers(61, 200, size=2)]) for _ in range(80)]
    pairs += [(ids[200], ids[i]) for i in range(201, 260)]
    sources = np.array([max(a, b) for a, b in pairs if a != b], dtype="S16")
    targets = np.array([min(a, b) for a, b in pairs if a != b], dtype="S16")
    return sources, targets


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_star_rounds_find_the_components_of_random_graphs(partitions):
    sources, targets = _random_graph(partitions)
    expected = _brute_force(sources, targets)
    assert _simulated_rounds(edges_table(sources, targets), partitions) == expected


def test_in_memory_labels_are_the_smallest_node_of_each_component():
    sources, targets = _random_graph(0)
    labelled = label_components(edges_table(sources, targets))
    labels = dict(zip(labelled.column(0).to_pylist(), labelled.column(1).to_pylist()))
    assert labels == _brute_force(sources, targets)
    assert label_components(edges_table(sources[:0], targets[:0])).num_rows == 0
