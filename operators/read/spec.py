"""One input as the job configures it (``InputSpec``): paths, format, kind, column mapping, kept fields.

Validated on the driver before any file is listed; ``sftforge.operators.read.files`` lists its files and
``sftforge.operators.read.planning`` cuts them into read units.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from sftforge.operators import schema
from sftforge.operators.base import StageConfig
from sftforge.operators.read.columns import CANONICAL_COLUMNS
from sftforge.operators.read.files import expand_files
from sftforge.operators.read.records import DEFAULT_MAX_ROW_BYTES

Format = Literal["auto", "parquet", "jsonl", "json"]
Kind = Literal["document", "instruction"]

#: Every column name the pipeline uses (``operators.schema``); kept source fields may not take one.
RESERVED_COLUMNS = frozenset(
    value
    for key, value in vars(schema).items()
    if key.isupper() and isinstance(value, str) and not key.startswith(("KIND_", "ORIGIN_", "ROLE_"))
)


class InputSpec(StageConfig):
    """One input of a job: where the files are, how to parse them, and which columns hold what.

    Attributes:
        path: A file, a directory, a glob, or a list of those; local paths or fsspec URLs
            (``s3://``, ``file://``, ``memory://``).
        format: ``auto`` infers it from each file's extension (``.parquet``/``.pq``, ``.jsonl``/``.ndjson``,
            ``.json``; ``.gz`` and ``.zst`` compressed JSONL/JSON too). A ``.json`` file whose first
            character is ``{`` is read as JSONL.
        kind: ``document`` (raw text) or ``instruction`` (pairs or conversations).
        columns: Canonical column (``text``, ``instruction``, ``input``, ``output``, ``system``,
            ``messages``) to source column. Unmapped canonical columns fall back to ``DEFAULT_ALIASES``.
        name: A label for the manifest.
        max_row_bytes: Rows whose content (UTF-8 bytes of all text fields) is larger than this are
            rejected as ``row_too_large``; a JSONL line longer than this is rejected unparsed, and only
            its first bytes are ever held in memory.
        keep_columns: Source fields (``id``, ``domain``, ``task_type``) carried to the release in the
            column ``source_fields`` (a compact JSON object of those a row has). Names must not be
            reserved column names.
    """

    path: str | list[str]
    format: Format = "auto"
    kind: Kind
    columns: dict[str, str] = Field(default_factory=dict)
    name: str | None = None
    max_row_bytes: int = Field(default=DEFAULT_MAX_ROW_BYTES, gt=0)
    keep_columns: list[str] = Field(default_factory=list)

    @field_validator("keep_columns")
    @classmethod
    def _kept_names_are_free(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or name in RESERVED_COLUMNS:
                raise ValueError(
                    f"keep_columns: '{name}' is a reserved column name; rename it with a mapping step"
                )
        if len(set(value)) != len(value):
            raise ValueError(f"keep_columns lists a name twice: {value}")
        return value

    @field_validator("path")
    @classmethod
    def _paths_not_empty(cls, value: str | list[str]) -> str | list[str]:
        paths = [value] if isinstance(value, str) else value
        if not paths or any(not path.strip() for path in paths):
            raise ValueError("needs at least one non-empty path")
        return value

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        for canonical, source in value.items():
            if canonical not in CANONICAL_COLUMNS:
                expected = ", ".join(CANONICAL_COLUMNS)
                raise ValueError(f"unknown column '{canonical}'; map one of {expected} to a source column")
            if not source:
                raise ValueError(f"column '{canonical}' is mapped to an empty name")
        return value

    @model_validator(mode="after")
    def _columns_fit_kind(self) -> InputSpec:
        mapped = set(self.columns)
        if self.kind == schema.KIND_DOCUMENT and mapped - {schema.TEXT}:
            raise ValueError(
                f"a document input maps only 'text', not {', '.join(sorted(mapped - {schema.TEXT}))}"
            )
        if self.kind == schema.KIND_INSTRUCTION:
            if schema.TEXT in mapped:
                raise ValueError(
                    "an instruction input has no 'text' column; map instruction/output or messages"
                )
            pair = mapped & {schema.INSTRUCTION, schema.INPUT, schema.OUTPUT}
            if schema.MESSAGES in mapped and pair:
                raise ValueError(
                    f"map either 'messages' or instruction/input/output, not both ({', '.join(sorted(pair))})"
                )
        return self

    @property
    def paths(self) -> list[str]:
        """The configured paths as a list."""
        return [self.path] if isinstance(self.path, str) else list(self.path)

    @property
    def label(self) -> str:
        """``name`` if set, else the configured path(s)."""
        return self.name or ", ".join(self.paths)

    def check_paths(self) -> list[str]:
        """Expands the paths and returns the files; raises InputError naming a path that matches nothing."""
        return [file.path for file in expand_files(self)]
