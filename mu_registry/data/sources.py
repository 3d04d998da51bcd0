"""The suites' data: where it comes from, where it goes, getting it, and checking it (``mu-eval data``).

* ``mlubench``: ``MLUBench.zip`` (the release's question/answer JSON) from the repository
  ``lihe-maxsize/Lifelong_Unlearning_main``, pinned by commit and sha256, fetched with ``pooch``; the
  images live in a cloud folder that needs a browser, so ``get`` prints that step and ``check`` verifies
  every file against the release's manifest (:mod:`mu_registry.data.mlubench_manifest`) and the images the
  JSON refers to.
* ``pulse``: MLLMU-Bench, the Hugging Face dataset ``MLLMMU/MLLMU-Bench`` at a pinned revision, fetched
  with ``huggingface_hub.snapshot_download`` (resumable, with progress bars).
* ``mubench-<task>``: MU-Bench's forget lists (``URL#sha256=`` in the task YAML, fetched with ``pooch``
  through :mod:`mu_registry.data.forget_ids`) and the task's Hugging Face dataset (through ``datasets``, into
  its cache); data MU-Bench does not distribute (DDI-2013, NLVR2 images, UCF101) is a manual step.

Everything goes under the data folder: ``--dir``, else ``$MU_DATA_DIR``, else ``<cache>/data`` (see
:func:`mu_registry.util.paths.cache_dir`); ``mlubench`` into ``<data>/mlubench/MLUBench`` (what the ``mlubench``
task reads when ``$MLUBENCH_DIR`` is unset), ``pulse`` into ``<data>/pulse/MLLMU-Bench``.
"""

from __future__ import annotations

import json
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu_registry.util.errors import MuError
from mu_registry.util.paths import cache_dir, expand_path, sha256_file
from mu_registry.registry.manager import get_registry
from mu_registry.registry.task_index import TaskIndex
from mu_registry.util.errors import UnknownNameError
from mu_registry.data.mlubench_manifest import FILES

MLUBENCH_REPO = "lihe-maxsize/Lifelong_Unlearning_main"
MLUBENCH_COMMIT = "35b069889d89eb3b9705ec9196935a5775858096"  # "Add files via upload" of MLUBench.zip
MLUBENCH_URL = f"https://raw.githubusercontent.com/{MLUBENCH_REPO}/{MLUBENCH_COMMIT}/MLUBench.zip"
MLUBENCH_SHA256 = "a66ad84f5cd9a4ad4424a53a7e173b8039db8eb9cbe91c85b819801bc527412f"
# the repository's README at cf6579c8f16f88f9c694b42e79de685de61d32fa links the images here
MLUBENCH_IMAGES_URL = ("https://1drv.ms/f/c/419e3e9d51ec307d/"
                       "ErRa7jkzxZhGvZlmLoGfuNIBsQ_fk3PcbOZzryhBuX47ig?e=MUuXwA")

MLLMU_REPO = "MLLMMU/MLLMU-Bench"
# the revision whose tree lists every config used here (Full_Set, Retain_Set, forget_5/10/15), as read from
# the dataset's "Files and versions" page; the newest revision could not be checked offline
MLLMU_REVISION = "e91a01eb060b61be8dbde7edb48b121341bd0890"
MLLMU_CONFIGS = {"Full_Set": 500, "Retain_Set": 153, "forget_5": 25, "forget_10": 50, "forget_15": 75}

MAX_LISTED = 20  # missing files named one a line, then a count


def data_root(override: str | Path | None = None) -> Path:
    """``--dir``, else ``$MU_DATA_DIR``, else ``<cache>/data``."""
    if override:
        return expand_path(override)
    env = os.environ.get("MU_DATA_DIR")
    return expand_path(env) if env else cache_dir() / "data"


def mlubench_release_dir() -> Path:
    """Where ``mu-eval data get mlubench`` puts the unzipped release."""
    return data_root() / "mlubench" / "MLUBench"


def mllmu_local_dir() -> Path:
    """Where ``mu-eval data get pulse`` puts MLLMU-Bench's parquet folders."""
    return data_root() / "pulse" / "MLLMU-Bench"


def source_dir(name: str) -> Path:
    """Where ``mu-eval data get NAME`` puts a suite's data: ``mlubench`` (the unzipped release) or ``pulse``
    (MLLMU-Bench's parquet folders)."""
    dirs = {"mlubench": mlubench_release_dir, "pulse": mllmu_local_dir}
    if name not in dirs:
        raise MuError(f"source_dir: no data folder is known for {name!r} (known: {', '.join(dirs)})")
    return dirs[name]()


class ResumableDownloader:
    """A ``pooch`` downloader that resumes: the bytes that arrived are kept in ``<file>.part`` and a later
    attempt asks only for the rest (an HTTP ``Range`` request; a server that ignores it sends everything
    again). pooch then checks the sha256 of the whole file as usual."""

    def __init__(self, part: Path, progress: bool = True):
        self.part, self.progress = part, progress

    def __call__(self, url: str, output_file: Any, pooch_obj: Any = None, check_only: bool = False) -> Any:
        import requests
        from tqdm import tqdm

        if check_only:
            return requests.head(url, allow_redirects=True, timeout=30).status_code == 200
        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with requests.get(url, headers=headers, stream=True, timeout=30) as resp:
            if resp.status_code != 416:  # 416: nothing left to send, the part file is whole
                resp.raise_for_status()
                resumed = have and resp.status_code == 206
                total = int(resp.headers.get("content-length", 0)) + (have if resumed else 0)
                with open(self.part, "ab" if resumed else "wb") as fh, tqdm(
                        total=total or None, initial=have if resumed else 0, unit="B", unit_scale=True,
                        disable=not self.progress, desc=self.part.name[:-len(".part")], leave=False) as bar:
                    for chunk in resp.iter_content(chunk_size=1 << 16):
                        fh.write(chunk)
                        bar.update(len(chunk))
        shutil.copyfile(self.part, output_file)
        self.part.unlink()


def pooch_fetch(url: str, sha256: str, folder: Path, fname: str, *, progress: bool = True,
                processor: Any = None) -> Any:
    """``url`` into ``folder/fname`` unless a file with that sha256 is already there; an interrupted
    download resumes (:class:`ResumableDownloader`); a download whose hash differs is deleted, never used.
    Errors are one line naming the URL and the folder."""
    import pooch

    folder.mkdir(parents=True, exist_ok=True)
    downloader = ResumableDownloader(folder / f"{fname}.part", progress)
    try:
        return pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=fname, path=folder,
                              downloader=downloader, processor=processor)
    except ValueError as exc:  # pooch: hash mismatch
        raise MuError(f"{url}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # network errors of requests, OSError
        raise MuError(f"cannot download {url} into {folder} ({type(exc).__name__}: {exc})") from None


@dataclass
class Status:
    present: bool
    complete: bool
    note: str = ""

    def label(self) -> str:
        return "complete" if self.complete else "incomplete" if self.present else "missing"


class Source(ABC):
    """One suite's data."""

    name: str
    origin: str
    licence: str

    @abstractmethod
    def target(self, root: Path) -> Path:
        """Where it goes under the data folder."""

    @abstractmethod
    def get(self, root: Path, *, progress: bool = True) -> list[str]:
        """Download what can be downloaded; returns lines to print (manual steps, environment)."""

    @abstractmethod
    def check(self, root: Path) -> list[str]:
        """One line per problem; empty when the data is complete."""

    def status(self, root: Path) -> Status:
        problems = self.check(root)
        present = self.target(root).exists()
        return Status(present, present and not problems, f"{len(problems)} problem(s)" if problems else "")


class MLUBench(Source):
    name = "mlubench"

    def __init__(self, url: str = MLUBENCH_URL, sha256: str = MLUBENCH_SHA256,
                 manifest: dict[str, tuple[str, int]] | None = None, image_root: Path | None = None):
        self.url, self.sha256 = url, sha256
        self.manifest = FILES if manifest is None else manifest
        self.image_root = image_root
        self.origin = f"{MLUBENCH_REPO} @ {MLUBENCH_COMMIT[:12]}: MLUBench.zip (sha256 {sha256[:12]}…); images: manual"
        self.licence = (f"none stated: {MLUBENCH_REPO} has no licence file (README, two zips only, "
                        "at cf6579c8)")

    def target(self, root: Path) -> Path:
        return root / "mlubench" / "MLUBench"

    def get(self, root: Path, *, progress: bool = True) -> list[str]:
        import pooch

        folder = root / "mlubench"
        pooch_fetch(self.url, self.sha256, folder, "MLUBench.zip", progress=progress,
                    processor=pooch.Unzip(extract_dir=str(folder)))
        release = self.target(root)
        if not release.is_dir():
            raise MuError(f"{folder / 'MLUBench.zip'}: unzipped, but {release} is not there")
        lines = [f"MLUBench's question/answer JSON: {release}"]
        if root != data_root(None) and not os.environ.get("MLUBENCH_DIR"):
            lines.append(f"set MLUBENCH_DIR={release} (or MU_DATA_DIR={root}) so the mlubench task finds it")
        lines += self.manual_steps(root)
        return lines

    def manual_steps(self, root: Path) -> list[str]:
        images = (self.image_root or self.target(root)) / "downloaded_images"
        if images.is_dir():
            return []
        return [f"MANUAL STEP: the images are a cloud folder that needs a browser: open {MLUBENCH_IMAGES_URL}, "
                f"download the folder 'downloaded_images' and put it at {images} (its <Class>/<Entity>/<file> "
                f"tree as it is); then run: mu-eval data check mlubench"]

    def check(self, root: Path) -> list[str]:
        release = self.target(root)
        if not release.is_dir():
            return [f"{release}: not found; run: mu-eval data get mlubench"
                    + (f" --dir {root}" if root != data_root(None) else "")]
        problems: list[str] = []
        referenced: set[str] = set()
        for rel, (sha, count) in sorted(self.manifest.items()):
            path = release / rel
            if not path.is_file():
                problems.append(f"{path}: missing")
                continue
            got = sha256_file(path)
            if got != sha:
                problems.append(f"{path}: sha256 {got[:12]}…, the release's is {sha[:12]}…")
                continue
            records = json.loads(path.read_text(encoding="utf-8"))
            if len(records) != count:
                problems.append(f"{path}: {len(records)} records, the release has {count}")
            referenced.update(r.get("image", "") for r in records if r.get("image"))
        extra = sorted(str(p.relative_to(release)) for p in release.rglob("*.json")) if release.is_dir() else []
        problems += [f"{release / rel}: not in the release" for rel in extra if rel not in self.manifest]
        problems += self._check_images(root, referenced)
        return problems

    def _check_images(self, root: Path, referenced: set[str]) -> list[str]:
        base = self.image_root or self.target(root)
        if not (base / "downloaded_images").is_dir():
            return self.manual_steps(root)
        missing = sorted(rel for rel in referenced if not (base / rel).is_file())
        lines = [f"{base / rel}: image missing" for rel in missing[:MAX_LISTED]]
        if len(missing) > MAX_LISTED:
            lines.append(f"{base / 'downloaded_images'}: {len(missing) - MAX_LISTED} more of the "
                         f"{len(referenced)} images the JSON refers to are missing")
        return lines


class Pulse(Source):
    name = "pulse"

    def __init__(self, repo: str = MLLMU_REPO, revision: str = MLLMU_REVISION):
        self.repo, self.revision = repo, revision
        self.origin = f"Hugging Face dataset {repo} @ {revision[:12]} ({', '.join(MLLMU_CONFIGS)})"
        self.licence = "as stated on the dataset card of MLLMMU/MLLMU-Bench (not readable offline here: check it)"

    def target(self, root: Path) -> Path:
        return root / "pulse" / "MLLMU-Bench"

    def get(self, root: Path, *, progress: bool = True) -> list[str]:
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            raise MuError("mu-eval data get pulse needs huggingface_hub: pip install 'mu-registry[hf]'") from None
        if not progress:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        try:
            snapshot_download(repo_id=self.repo, repo_type="dataset", revision=self.revision,
                              local_dir=self.target(root), allow_patterns=[f"{c}/*" for c in MLLMU_CONFIGS]
                              + ["README.md"])
        except Exception as exc:
            raise MuError(f"cannot download {self.repo}@{self.revision[:12]} into {self.target(root)} "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
        lines = [f"MLLMU-Bench ({', '.join(MLLMU_CONFIGS)}): {self.target(root)}"]
        if root != data_root(None):
            lines.append(f"set MU_DATA_DIR={root} so the pulse tasks find it (or dataset.builder_args.path)")
        return lines

    def check(self, root: Path) -> list[str]:
        folder = self.target(root)
        if not folder.is_dir():
            where = f" --dir {root}" if root != data_root(None) else ""
            return [f"{folder}: not found; run: mu-eval data get pulse{where}"]
        problems = []
        for config, rows in MLLMU_CONFIGS.items():
            files = sorted((folder / config).glob("*.parquet"))
            if not files:
                problems.append(f"{folder / config}: no parquet files")
                continue
            got = _parquet_rows(files)
            if got is not None and got != rows:
                problems.append(f"{folder / config}: {got} profiles, MLLMU-Bench has {rows}")
        return problems


def _parquet_rows(files: list[Path]) -> int | None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    return sum(pq.read_metadata(f).num_rows for f in files)


class MUBenchTask(Source):
    """One MU-Bench task's data: its forget lists and its Hugging Face dataset (or a manual step)."""

    def __init__(self, task: str, config: Any, yaml_path: Path):
        self.name, self.config, self.yaml_path = task, config, yaml_path
        ds = config.dataset
        self.local = bool(ds.data_files)
        where = f"local files ({', '.join(sorted(ds.data_files))})" if self.local else f"Hugging Face {ds.path}"
        self.origin = f"{where}; forget lists from CLU-UML/MU-Bench (URL#sha256 in the task)"
        self.licence = "the dataset's own; MU-Bench's forget lists: none stated (no licence file in CLU-UML/MU-Bench)"

    def _ids_urls(self) -> list[str]:
        spec = self.config.forget.ids_file
        specs = list(spec.values()) if isinstance(spec, dict) else [spec] if spec else []
        return [s for s in specs if isinstance(s, str) and "://" in s]

    def target(self, root: Path) -> Path:
        return root / "mubench-forget-ids"

    def _ids_path(self, root: Path, url: str) -> Path:
        parts = url.partition("#")[0].rstrip("/").rsplit("/", 2)
        return self.target(root) / (parts[-2] if parts[-2] == "ucf101" else "") / parts[-1]

    def get(self, root: Path, *, progress: bool = True) -> list[str]:
        for url in self._ids_urls():
            spec, _, fragment = url.partition("#")
            path = self._ids_path(root, url)
            pooch_fetch(spec, fragment[len("sha256="):], path.parent, path.name, progress=progress)
        lines = [f"forget lists: {self.target(root)} (mu-eval finds them there through "
                 f"MU_FORGET_IDS_DIR={self.target(root)})"]
        ds = self.config.dataset
        if self.local:
            lines.append(f"MANUAL STEP: {self.name} reads local files MU-Bench does not distribute "
                         f"({', '.join(str(v) for v in ds.data_files.values())}); see the comment at the top of "
                         f"{self.yaml_path} (mu-eval show {self.name} --raw) for where to get them")
            return lines
        try:
            import datasets
        except ImportError:
            raise MuError("mu-eval data get mubench-* needs datasets: pip install 'mu-registry[hf]'") from None
        hub = [(ds.path, ds.name, ds.revision, dict(ds.load_args or {}))]
        hub += [(x.path, x.name, x.revision, dict(x.load_args or {})) for x in ds.extra_sources.values()
                if not x.data_files]  # IMDB's out-of-distribution set
        for path, name, revision, load_args in hub:
            try:
                datasets.load_dataset(path, name, revision=revision, **load_args)
            except Exception as exc:
                raise MuError(f"cannot download Hugging Face dataset {path} ({type(exc).__name__}: {exc})") from None
            lines.append(f"Hugging Face dataset {path}: in the datasets cache")
        return lines

    def check(self, root: Path) -> list[str]:
        problems = []
        for url in self._ids_urls():
            path = self._ids_path(root, url)
            want = url.partition("#sha256=")[2].lower()
            if not path.is_file():
                problems.append(f"{path}: missing; run: mu-eval data get {self.name}")
            elif sha256_file(path) != want:
                problems.append(f"{path}: sha256 differs from the task's {want[:12]}…")
        return problems

    def status(self, root: Path) -> Status:
        problems = self.check(root)
        present = self.target(root).exists()
        note = "plus local files you provide" if self.local else "plus the Hugging Face dataset (datasets cache)"
        return Status(present and len(problems) < len(self._ids_urls()), not problems, note)


def sources(registry: Any = None, include_paths: list[str] | None = None, image_root: str | None = None
            ) -> dict[str, Source]:
    """Every suite's data source by name: mlubench, pulse and one mubench-<task> per MU-Bench task."""
    out: dict[str, Source] = {"mlubench": MLUBench(image_root=expand_path(image_root) if image_root else None),
                              "pulse": Pulse()}
    index = TaskIndex(registry or get_registry(), include_paths or [])
    if "mubench" in index.groups:
        for task in index.expand(["mubench"]):
            loaded = index.load(task)
            out[task] = MUBenchTask(task, loaded.config, loaded.path)
    return out


def source(name: str, **kwargs: Any) -> Source:
    table = sources(**kwargs)
    if name not in table:
        raise UnknownNameError("data source", name, list(table))
    return table[name]
