"""Run folders: what ``kamlab run`` may write where, staging, replacing and updating.

kamlab never deletes what it did not create. ``--out`` must not be the data folder, lie
inside it or contain it, nor be a file; an existing folder is touched only when it is a kamlab
run folder (it holds kamlab's ``manifest.json``). A run is assembled in a staging folder
(``.<name>.partial``, marked as kamlab's) and moved into place only when complete; an old run
is removed only after the new one is in place; a subset of notebooks of the same data and dates
updates just those notebooks' files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

__all__ = [
    "MANIFEST",
    "RunRefused",
    "check_out",
    "check_same_run",
    "choose_mode",
    "is_run_folder",
    "merge_into",
    "put_in_place",
    "staging_for",
    "write_manifest",
]

MANIFEST = "manifest.json"
STAGING_MARK = ".kamlab-staging"


class RunRefused(ValueError):
    """``kamlab run`` refused to start (the reason is the message); nothing was written."""


def write_manifest(path: Path, manifest: dict) -> None:
    """Write ``manifest.json`` atomically, keys sorted."""
    from kamlab._io import atomic_write

    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def is_run_folder(path: Path) -> bool:
    """True when ``path`` holds a manifest written by ``kamlab run``."""
    manifest = path / MANIFEST
    if not manifest.is_file():
        return False
    try:
        return "kamlab_version" in json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def within(a: Path, b: Path) -> bool:
    return a == b or b in a.parents


def check_out(out: Path, data) -> None:
    """Refuse an output folder that would touch the data or a file, before any work."""
    # A data folder: the run may neither lie inside it nor contain it. An input file (an
    # export, a public dataset, a mapping): the run may sit beside it, never on or around it.
    folders = [data.folder] if data.folder is not None else []
    files = list(data.inputs)  # only files: the runner resolves a folder's inputs to its files
    for place in folders:
        if within(out, place) or within(place, out):
            raise RunRefused(
                f"--out {out} {'is' if out == place else 'overlaps'} the data "
                f"({place}): a run folder must lie outside the data it reads, "
                f"and must not contain it"
            )
    for place in files:
        if within(place, out):
            raise RunRefused(
                f"--out {out} {'is' if out == place else 'contains'} the input {place}: a run "
                f"folder must not hold the files it reads"
            )
    if out.exists() and not out.is_dir():
        raise RunRefused(f"--out {out} is a file, not a folder")
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise RunRefused(f"--out {out}: {parent} is a file, not a folder")


def choose_mode(out: Path, replace: bool, subset: bool) -> str:
    """``"new"``, ``"replace"`` or ``"update"`` (a subset into an existing run folder)."""
    if not out.exists():
        return "new"
    if not any(out.iterdir()):
        return "new"
    if not is_run_folder(out):
        raise RunRefused(
            f"--out {out} exists and is not a kamlab run folder (no kamlab "
            f"manifest.json); kamlab only replaces folders it created. Choose "
            f"another --out."
        )
    if subset and not replace:
        return "update"
    if not replace:
        raise RunRefused(
            f"--out {out} already holds a kamlab run; pass --replace to replace "
            f"it (it is kept until the new run is complete), or choose another "
            f"--out"
        )
    return "replace"


def staging_for(out: Path | None, source) -> Path:
    """A fresh staging folder beside ``out`` (or in ``runs/`` when ``out`` is not known yet)."""
    base = (
        Path(out).expanduser().resolve()
        if out is not None
        else Path("runs").resolve() / source.label / ".incoming"
    )
    staging = base.with_name(f".{base.name}.partial")
    if staging.exists():
        if not (staging / STAGING_MARK).is_file():
            raise RunRefused(
                f"{staging} exists and was not made by kamlab; remove it or choose another --out"
            )
        shutil.rmtree(staging)  # an interrupted run of ours
    staging.mkdir(parents=True)
    (staging / STAGING_MARK).write_text("made by kamlab run\n", encoding="utf-8")
    return staging


def move_staging(staging: Path, out: Path) -> Path:
    target = out.with_name(f".{out.name}.partial")
    if target.exists():
        if not (target / STAGING_MARK).is_file():
            raise RunRefused(f"{target} exists and was not made by kamlab")
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    try:
        staging.parent.rmdir()  # runs/<label>/ when it held nothing else
    except OSError:
        pass
    return target


def free_name(path: Path) -> Path:
    """``path`` itself when free or an earlier failed run of ours, else ``path-2``, ``-3``..."""
    candidate, n = path, 1
    while candidate.exists():
        if is_run_folder(candidate):
            shutil.rmtree(candidate)
            return candidate
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def put_in_place(staging: Path, out: Path) -> None:
    """Move the finished run into place; an old run folder is removed only afterwards."""
    (staging / STAGING_MARK).unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        if any(out.iterdir()) and not is_run_folder(out):  # re-checked: never delete foreign files
            raise RunRefused(
                f"{out} changed during the run and is no longer a kamlab run "
                f"folder; the new run is kept in {staging}"
            )
        old = out.with_name(f".{out.name}.old")
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        staging.rename(out)


def check_same_run(out: Path, dataset, timeline, per_book) -> None:
    """A subset may update a run folder only when it describes the same data and dates."""
    old = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    if old.get("status") != "ok":
        raise RunRefused(f"{out} holds a run that did not complete; pass --replace")
    if (
        old.get("dates", {}).get("as_of") != timeline.to_dict()["as_of"]
        or old.get("dates") != timeline.to_dict()
    ):
        raise RunRefused(
            f"{out} holds a run with other dates ({old.get('dates', {}).get('as_of')}"
            f" vs {timeline.as_of.date()}); updating some notebooks would mix two "
            f"runs. Pass --replace to replace it, or choose another --out"
        )
    rows = {
        t: int(len(getattr(dataset, t)))
        for t in ("accounts", "transactions", "assessments", "interactions")
    }
    if old.get("rows") != rows:
        raise RunRefused(
            f"{out} holds a run on other data (rows {old.get('rows')} vs {rows}); "
            f"pass --replace or choose another --out"
        )


def merge_into(out: Path, staging: Path, manifest: dict, books) -> None:
    """Replace just the re-run notebooks' files in ``out`` and record the update."""
    old = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    stems = {b.stem for b in books}
    for sub in ("notebooks", "html", "tables", "figures", "logs"):
        for path in (out / sub).glob("*"):
            if any(path.name.startswith(stem) for stem in stems):
                path.unlink()
        for path in (staging / sub).glob("*"):
            (out / sub).mkdir(exist_ok=True)
            os.replace(path, out / sub / path.name)
    entries = {n["notebook"]: n for n in old.get("notebooks", [])}
    for entry in manifest["notebooks"]:
        entries[entry["notebook"]] = {**entry, "updated": manifest["finished"]}
    old["notebooks"] = [entries[k] for k in sorted(entries)]
    for stem in stems:
        old.setdefault("parameters", {})[stem] = manifest["parameters"][stem]
        old.setdefault("injected_parameters", {})[stem] = manifest["injected_parameters"][stem]
    old.setdefault("updates", []).append(
        {
            "notebooks": sorted(stems),
            "started": manifest["started"],
            "finished": manifest["finished"],
        }
    )
    write_manifest(out / MANIFEST, old)
    from kamlab import report

    report.write_index(out)
    shutil.rmtree(staging)
