from sftforge.jobs.dedup import DedupSummary, dedup_report_section


def test_report_section_bins_cluster_sizes():
    summary = DedupSummary(100, 10, 5, 2, {1: 80, 2: 4, 3: 2, 7: 1}, [])
    section = dedup_report_section(summary)
    assert section["cluster_size_histogram"] == {"1": 80, "2": 4, "3-4": 2, "5-9": 1}
    assert section["rows_kept"] == 85
