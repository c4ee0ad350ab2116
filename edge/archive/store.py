"""The results of an archive run on disk: a Parquet dataset directory plus a side file of errors.

``results.parquet/`` holds one ``part-<n>.parquet`` per finished chunk, written to a hidden temporary
name and renamed, so a killed run leaves only whole parts. Resuming reads the ``path`` column of the
parts (and the error file) and skips those frames, so no frame is ever written twice. Any Parquet
reader opens the directory as one table (``pandas.read_parquet("results.parquet")``).

Columns: ``path`` (absolute), ``captured_at`` (UTC, by the station's capture-time rules), ``time_source``
(``fits``, ``exif``, ``name`` or ``mtime``), ``label``, ``confidence``, one ``p_<class>`` column per class of
the bundle, ``model_sha256``. Parts written before ``time_source`` existed lack that column (and may have
null ``captured_at``); readers that select their columns open old and new parts alike.
"""
from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from auroral.edge.errors import UserError

log = logging.getLogger(__name__)

ERROR_COLUMNS = ("path", "error")


def results_schema(classes: list[str]) -> pa.Schema:
    return pa.schema(
        [("path", pa.string()), ("captured_at", pa.timestamp("us", tz="UTC")), ("time_source", pa.string()),
         ("sky", pa.string()), ("sun_elevation", pa.float64()), ("moon_elevation", pa.float64()),
         ("moon_illumination", pa.float64()), ("moonlit", pa.bool_()),
         ("label", pa.string()), ("confidence", pa.float64())]
        + [(f"p_{name}", pa.float64()) for name in classes]
        + [("model_sha256", pa.string())]
    )


def errors_path(out: Path) -> Path:
    """``results.parquet`` → ``results.parquet.errors.csv``, next to the dataset directory."""
    return out.with_name(out.name + ".errors.csv")


class ResultStore:
    """Appends chunks to the dataset and the error file; knows which frames are already done."""

    def __init__(self, out: Path, classes: list[str], model_sha256: str):
        if out.exists() and not out.is_dir():
            raise UserError(f"{out} exists and is not a results directory from auroral archive")
        self.out = out
        self.errors = errors_path(out)
        self.schema = results_schema(classes)
        self.model_sha256 = model_sha256
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(".part-*.tmp"):  # left by a run killed while writing
            stale.unlink()
        self._next = 1 + max((int(p.stem.split("-")[1]) for p in self._parts()), default=-1)

    def _parts(self) -> list[Path]:
        return sorted(self.out.glob("part-*.parquet"))

    def done_paths(self) -> set[str]:
        """Paths already classified (with this model) or already reported unreadable."""
        done: set[str] = set()
        for part in self._parts():
            table = pq.read_table(part, columns=["path", "model_sha256"])
            models = set(table.column("model_sha256").unique().to_pylist())
            if models - {self.model_sha256}:
                raise UserError(
                    f"{self.out} holds results of another model (sha256 {sorted(models)[0][:12]}…); "
                    f"resume with the same bundle or choose a new --out"
                )
            done.update(table.column("path").to_pylist())
        if self.errors.is_file():
            with open(self.errors, newline="", encoding="utf-8") as fh:
                done.update(row["path"] for row in csv.DictReader(fh))
        return done

    def write(self, rows: list[dict], errors: list[tuple[str, str]]) -> None:
        """Write one chunk: a new part file (atomically) and its unreadable frames."""
        if rows:
            final = self.out / f"part-{self._next:06d}.parquet"
            temporary = self.out / f".{final.name}.tmp"
            pq.write_table(pa.Table.from_pylist(rows, schema=self.schema), temporary)
            os.replace(temporary, final)
            self._next += 1
        if errors:
            new_file = not self.errors.is_file()
            with open(self.errors, "a", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                if new_file:
                    writer.writerow(ERROR_COLUMNS)
                writer.writerows(errors)
            for path, reason in errors:
                log.warning("event=archive_unreadable path=%s reason=%s", path, reason)
