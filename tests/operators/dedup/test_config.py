import pytest
from sftforge.operators.dedup.config import DedupConfig, MinHashConfig


def test_one_config_holds_every_pass():
    config = DedupConfig(keep="longest", exact={"ignore_digits": True}, near={"threshold": 0.7})
    assert config.exact.ignore_digits and config.near.threshold == 0.7 and config.keep == "longest"
    assert config.near.signature_parameters()["num_perm"] == 128


def test_config_validation():
    with pytest.raises(ValueError):
        MinHashConfig(threshold=1.5)
    with pytest.raises(ValueError):
        MinHashConfig(unknown=1)
    with pytest.raises(ValueError):
        DedupConfig(exact={"key": "output"})
    assert MinHashConfig().bands == (14, 9)
    assert MinHashConfig(false_negative_weight=0.5).bands == (9, 13)


def test_against_must_name_existing_indexes(tmp_path):
    with pytest.raises(ValueError, match="is not a dedup index"):
        DedupConfig(against=[str(tmp_path / "missing")])
    (tmp_path / "params.json").write_text("{}")
    assert DedupConfig(against=[str(tmp_path)]).against == [str(tmp_path)]
    assert DedupConfig(against=["s3://bucket/index"]).against == ["s3://bucket/index"]
