"""The job config: one YAML file, validated with pydantic on the driver before Ray starts.

Every stage's config class lives beside the stage in ``operators/``; this module composes them. A stage
whose key is absent or ``null`` is skipped.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from sftforge.jobs.did_you_mean import suggest_key
from sftforge.operators.augment.config import AugmentConfig
from sftforge.operators.base import StageConfig
from sftforge.operators.clean.cleaner import CleanConfig
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.judge.judge import JudgeConfig
from sftforge.operators.language.config import LanguageConfig
from sftforge.operators.llm_client import LLMConfig
from sftforge.operators.quality.diversity import SelectConfig
from sftforge.operators.quality.scorer import QualityConfig
from sftforge.operators.read.spec import InputSpec
from sftforge.operators.split.splitter import SplitConfig
from sftforge.operators.write.formats import OutputConfig, check_kept_columns

_RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ConfigError(Exception):
    """The config file cannot be used; the message names the file and the key."""


class RayConfig(StageConfig):
    """Where the job runs.

    Attributes:
        address: A Ray cluster address (``auto``, ``ray://host:port``); ``None`` uses ``RAY_ADDRESS`` when a
            job was submitted to a cluster, else starts a local runtime.
        num_cpus: CPUs for a local runtime (default: all cores).
        object_store_memory: Bytes for a local runtime's object store (default: Ray's choice).
    """

    address: str | None = None
    num_cpus: int | None = Field(default=None, gt=0)
    object_store_memory: int | None = Field(default=None, gt=0)


class JobConfig(StageConfig):
    """A whole sftforge job.

    Attributes:
        release: Release id, the folder name under ``output.dir`` (default: the UTC time of the run).
        inputs: Input shards; at least one.
        output: Where and how the release is written.
        split: Train / validation / test ratios.
        ray: Where the job runs.
        clean: HTML, Unicode and boilerplate cleaning (on by default).
        language: Language identification; keeps ``language.allowed`` languages; off unless set.
        dedup: Exact and MinHash near-duplicate removal, ``cluster_id`` for the split, the release's
            ``dedup_index``; off unless set (``dedup: {}`` for the defaults).
        augment: LLM augmentation (Self-Instruct, back-translation, paraphrase, QA); off unless set.
        quality: Quality rules, classifier and score; off unless set (``quality: {}`` for the defaults).
        select: Diversity-aware selection of at most ``select.target_size`` instruction rows.
        llm: The LLM endpoint (or ``backend: local``) used by augmentation and the judge; off unless set.
        judge: LLM judge (Harmless/Honest/Helpful) keeping pairs at or above ``judge.threshold``; needs ``llm``.
    """

    release: str | None = None
    inputs: list[InputSpec] = Field(min_length=1)
    output: OutputConfig
    split: SplitConfig = SplitConfig()
    ray: RayConfig = RayConfig()
    clean: CleanConfig | None = CleanConfig()
    language: LanguageConfig | None = None
    dedup: DedupConfig | None = None
    augment: AugmentConfig | None = None
    quality: QualityConfig | None = None
    select: SelectConfig | None = None
    llm: LLMConfig | None = None
    judge: JudgeConfig | None = None

    @field_validator("release", mode="before")
    @classmethod
    def _dates_are_release_ids(cls, value: Any) -> Any:
        # YAML reads an unquoted 2026-11-22 as a date.
        return value.isoformat() if isinstance(value, date) else value

    @field_validator("release")
    @classmethod
    def _release_is_a_folder_name(cls, value: str | None) -> str | None:
        if value is not None and not _RELEASE_ID.match(value):
            raise ValueError(f"'{value}' is not a valid release id (letters, digits, '.', '_', '-')")
        if value is not None and value.upper() == "LATEST":
            raise ValueError("'LATEST' is the name of the pointer to the newest release, not a release id")
        return value

    @model_validator(mode="after")
    def _inputs_exist(self) -> JobConfig:
        for index, spec in enumerate(self.inputs):
            for path in [spec.path] if isinstance(spec.path, str) else spec.path:
                if "://" in path and not path.startswith("file://"):
                    continue  # remote listings happen when the job plans its reads
                local = path.removeprefix("file://")
                # recursive=True: '**' means any depth here as it does for the reader (fsspec).
                if not (os.path.exists(local) or glob.glob(local, recursive=True)):
                    raise ValueError(f"inputs[{index}].path: nothing matches '{path}'")
        return self

    @model_validator(mode="after")
    def _url_schemes_are_installed(self) -> JobConfig:
        from sftforge.jobs.storage import missing_filesystem

        paths = [self.output.dir]
        for spec in self.inputs:
            paths.extend([spec.path] if isinstance(spec.path, str) else spec.path)
        for path in paths:
            problem = missing_filesystem(path)
            if problem:
                raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _kept_columns_are_not_reserved(self) -> JobConfig:
        for index, spec in enumerate(self.inputs):
            names = getattr(spec, "keep_columns", None)
            if names:
                try:
                    check_kept_columns(list(names))
                except ValueError as exc:
                    raise ValueError(f"inputs[{index}].keep_columns: {exc}") from None
        return self

    @model_validator(mode="after")
    def _output_outside_inputs(self) -> JobConfig:
        # An output inside an input folder would read every earlier release back in on the next run.
        output = os.path.realpath(self.output.dir.removeprefix("file://"))
        for index, spec in enumerate(self.inputs):
            for path in [spec.path] if isinstance(spec.path, str) else spec.path:
                if "://" in path and not path.startswith("file://"):
                    continue
                root = os.path.realpath(_glob_root(path.removeprefix("file://")))
                if output == root or output.startswith(root.rstrip(os.sep) + os.sep):
                    raise ValueError(
                        f"output.dir '{self.output.dir}' is inside inputs[{index}].path '{path}': every run "
                        "would read earlier releases back in; put releases outside the input folders"
                    )
        return self

    @model_validator(mode="after")
    def _no_credentials_in_urls(self) -> JobConfig:
        base_url = self.llm.base_url if self.llm is not None else None
        urls = [base_url] if isinstance(base_url, str) else list(base_url or [])
        if any("@" in url.split("://", 1)[-1].split("/", 1)[0] for url in urls):
            raise ValueError(
                "llm.base_url holds a user name or password; pass credentials in environment variables "
                "(llm.api_key_env), never in the URL"
            )
        return self

    def release_id(self) -> str:
        """The configured release id, or one made from the current UTC time."""
        return self.release or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

    def config_hash(self) -> str:
        """sha256 of the canonical JSON form of the config (release id excluded)."""
        data = self.model_dump(mode="json", exclude={"release"})
        return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Applies ``key.path=value`` overrides; values are parsed as YAML (``3``, ``true``, ``[a, b]``)."""
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set '{override}': expected key.path=value")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                raise ConfigError(f"--set '{override}': '{part}' is not a mapping")
            node = child
        try:
            node[parts[-1]] = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError as exc:
            problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise ConfigError(f"--set '{override}': the value is not valid YAML ({problem}); quote it") from None
    return data


def _glob_root(path: str) -> str:
    """The folder a path or pattern reads from: the path itself, or a pattern's folder before its first wildcard."""
    cut = min((path.find(char) for char in "*?[" if char in path), default=-1)
    if cut < 0:
        return path
    head = path[:cut]
    return head if head.endswith(os.sep) else os.path.dirname(head)


#: Nested keys that hold a local path; relative values resolve against the config file's folder.
PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("output", "dir"),
    ("quality", "classifier", "path"),
    ("language", "model_path"),
    ("augment", "work_dir"),
    ("augment", "self_instruct", "seed_tasks"),
    ("augment", "instruction_backtranslation", "seed_tasks"),
    ("llm", "cache"),
    ("llm", "local", "model_path"),
)


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    def resolve(path: str) -> str:
        if "://" in path or os.path.isabs(path):
            return path
        return str((base / os.path.expanduser(path)).resolve())

    for spec in data.get("inputs") or []:
        if isinstance(spec, dict) and "path" in spec:
            path = spec["path"]
            spec["path"] = [resolve(p) for p in path] if isinstance(path, list) else resolve(str(path))
    for keys in PATH_KEYS:
        node = data
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            node[keys[-1]] = resolve(node[keys[-1]])
    dedup = data.get("dedup")
    if isinstance(dedup, dict) and isinstance(dedup.get("against"), list):
        dedup["against"] = [resolve(p) if isinstance(p, str) and p != "auto" else p for p in dedup["against"]]


def _refuse_relative_paths_in_ray_package(data: dict[str, Any], source: Path) -> None:
    """A relative output (or input) of a config inside ``ray job submit``'s temporary copy would live there."""
    from sftforge.jobs.storage import inside_ray_package

    if not inside_ray_package(str(source)):
        return
    output = data.get("output")
    named = [("output.dir", output.get("dir"))] if isinstance(output, dict) else []
    for index, spec in enumerate(data.get("inputs") or []):
        if isinstance(spec, dict):
            paths = spec.get("path") if isinstance(spec.get("path"), list) else [spec.get("path")]
            named.extend((f"inputs[{index}].path", path) for path in paths)
    for key, path in named:
        if isinstance(path, str) and "://" not in path and not os.path.isabs(os.path.expanduser(path)):
            raise ConfigError(
                f"{key} '{path}' is relative, but the config runs from Ray's temporary copy of the working "
                "directory, where it would be lost; use an absolute path on shared storage or an "
                "object-store URL (s3://...)"
            )


def format_validation_error(error: ValidationError, source: str) -> str:
    """One readable line per problem, each naming the key."""
    lines = [f"invalid config {source}:"]
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
            suggestion = suggest_key(JobConfig, problem["loc"])
            if suggestion:
                message += f" (did you mean '{suggestion}'?)"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> JobConfig:
    """Reads, overrides and validates a job config.

    Relative paths in ``inputs`` and ``output.dir`` are resolved against the config file's folder.

    Raises:
        ConfigError: The file is missing or not YAML, or a key is unknown, mistyped or inconsistent.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {source}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {source} is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {source} must be a mapping at the top level")
    data = apply_overrides(data, overrides or [])
    _refuse_relative_paths_in_ray_package(data, source.resolve())
    _resolve_paths(data, source.resolve().parent)
    try:
        return JobConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(source))) from None
