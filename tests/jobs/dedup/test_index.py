import json

import pytest
from sftforge.jobs.dedup import DedupConfig, DedupIndexError, check_index


def test_an_index_made_with_other_parameters_is_refused(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    config = DedupConfig()
    params = {
        "format": 1,
        "rows": 0,
        "exact": config.exact.model_dump(exclude={"enabled"}),
        "near": dict(config.near.signature_parameters(), num_perm=64),
    }
    (index / "params.json").write_text(json.dumps(params))
    with pytest.raises(DedupIndexError, match="num_perm=64 and this run uses 128"):
        check_index(str(index), config)
    check_index(
        str(index), config.model_copy(update={"near": config.near.model_copy(update={"enabled": False})})
    )
    with pytest.raises(ValueError, match="is not a dedup index"):
        DedupConfig(against=[str(tmp_path / "missing")])
