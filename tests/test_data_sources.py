"""`mu-eval data`: pinned downloads (pooch) from a local HTTP server on 127.0.0.1, checks, and the errors
that name the expanded path and the command that fixes them. No network."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from mu_registry.cli.main import main
from mu_registry.data.sources import MLUBench, sources
from mu_registry.util.errors import ConfigError, MuError
from mu_registry.data.forget_ids import resolve_ids_file
from mu_registry.data.mlubench_manifest import FILES

from conftest import SHARED

RELEASE = SHARED / "reference" / "mlubench"
needs_release = pytest.mark.skipif(not RELEASE.exists(), reason="../shared/reference/mlubench is missing")


RANGES: list[str] = []  # the Range headers the server was sent


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, honouring ``Range: bytes=N-`` as servers of release files do (206 with the rest)."""

    def log_message(self, *args, **kwargs) -> None:
        pass

    def do_GET(self) -> None:
        ask = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not ask or not path.is_file():
            return super().do_GET()
        RANGES.append(ask)
        data = path.read_bytes()[int(ask.removeprefix("bytes=").rstrip("-")):]
        self.send_response(206)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/www on 127.0.0.1 (a free port); yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    RANGES.clear()
    handler = functools.partial(RangeHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    root = tmp_path / "data"
    monkeypatch.setenv("MU_DATA_DIR", str(root))
    monkeypatch.setenv("MU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLUBENCH_DIR", raising=False)
    monkeypatch.delenv("MU_FORGET_IDS_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the same message whether or not the Hub answers here
    return root


def _release_zip(www: Path) -> str:
    """The release as MLUBench.zip lays it out (MLUBench/Entities, MLUBench/Tasks); its sha256."""
    path = www / "MLUBench.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(RELEASE.rglob("*.json")):
            zf.write(f, "MLUBench/" + f.relative_to(RELEASE).as_posix())
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_release
def test_get_unzips_the_pinned_release_prints_the_manual_step_and_check_finds_each_problem(server, data_dir):
    www, url = server
    source = MLUBench(url=f"{url}/MLUBench.zip", sha256=_release_zip(www))
    lines = source.get(data_dir, progress=False)
    release = data_dir / "mlubench" / "MLUBench"
    assert lines[0] == f"MLUBench's question/answer JSON: {release}"
    assert lines[-1].startswith("MANUAL STEP: the images are a cloud folder that needs a browser: open https://")
    assert f"put it at {release / 'downloaded_images'}" in lines[-1]
    assert len(list(release.rglob("*.json"))) == len(FILES) == 135

    # the JSON matches the published manifest: the only problem left is the images
    assert source.check(data_dir) == [lines[-1]]
    referenced = {r for r in _images(release)}
    assert len(referenced) == 2453
    for rel in referenced:
        (release / rel).parent.mkdir(parents=True, exist_ok=True)
        (release / rel).touch()
    assert source.check(data_dir) == []

    gone = sorted(referenced)[0]
    (release / gone).unlink()
    task_a = release / "Tasks" / "TaskA" / "taskA_forget.json"
    task_a.write_text(task_a.read_text()[:-1] + " ")
    problems = source.check(data_dir)
    assert problems[0].startswith(f"{task_a}: sha256 ") and "the release's is" in problems[0]
    assert f"{release / gone}: image missing" in problems
    assert len(problems) == 2

    # a second get finds the zip by its hash and downloads nothing
    (www / "MLUBench.zip").unlink()
    assert source.get(data_dir, progress=False)[0].endswith(str(release))


def _images(release: Path) -> set[str]:
    import json

    out: set[str] = set()
    for f in release.rglob("*.json"):
        out.update(r["image"] for r in json.loads(f.read_text()) if r.get("image"))
    return out


@needs_release
def test_an_interrupted_download_resumes_where_it_stopped(server, data_dir):
    www, url = server
    sha = _release_zip(www)
    whole = (www / "MLUBench.zip").read_bytes()
    folder = data_dir / "mlubench"
    folder.mkdir(parents=True)
    (folder / "MLUBench.zip.part").write_bytes(whole[:100_000])  # what arrived before the interruption
    MLUBench(url=f"{url}/MLUBench.zip", sha256=sha).get(data_dir, progress=False)
    assert RANGES == ["bytes=100000-"]
    assert (folder / "MLUBench.zip").read_bytes() == whole and not (folder / "MLUBench.zip.part").exists()


@needs_release
def test_a_download_with_another_checksum_is_refused_and_not_kept(server, data_dir):
    www, url = server
    _release_zip(www)
    with pytest.raises(MuError, match=rf"{url}/MLUBench.zip: .*hash"):
        MLUBench(url=f"{url}/MLUBench.zip", sha256="0" * 64).get(data_dir, progress=False)
    assert not (data_dir / "mlubench" / "MLUBench.zip").exists()


def test_forget_lists_download_through_pooch_and_are_checked(server, data_dir):
    www, url = server
    (www / "imdb.txt").write_text("3\n1\n2\n")
    good = hashlib.sha256(b"3\n1\n2\n").hexdigest()
    path = resolve_ids_file(f"{url}/imdb.txt#sha256={good}", base=Path("."), source="t.yaml")
    assert path.read_text() == "3\n1\n2\n" and path.is_relative_to(data_dir.parent / "cache")
    with pytest.raises(ConfigError, match=r"t.yaml: forget.ids_file: .*mu-eval data get mubench-"):
        resolve_ids_file(f"{url}/imdb.txt#sha256={'1' * 64}", base=Path("."), source="t.yaml")
    # what `mu-eval data get mubench-<task>` puts in <data>/mubench-forget-ids is found there
    (data_dir / "mubench-forget-ids").mkdir(parents=True)
    (data_dir / "mubench-forget-ids" / "other.txt").write_text("3\n1\n2\n")
    local = resolve_ids_file(f"{url}/nowhere/other.txt#sha256={good}", base=Path("."), source="t.yaml")
    assert local == data_dir / "mubench-forget-ids" / "other.txt"


def test_data_list_names_every_suite_source_and_check_says_what_to_run(data_dir, capsys):
    assert {"mlubench", "pulse", "mubench-cifar100", "mubench-ucf101"} <= set(sources())
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"data folder: {data_dir}"
    row = next(line for line in out if line.startswith("mlubench "))
    assert "missing" in row and str(data_dir / "mlubench" / "MLUBench") in row and "35b069889d89" in row
    assert main(["data", "check", "mlubench"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"mu-eval: problem: {data_dir / 'mlubench' / 'MLUBench'}: not found; run: mu-eval data get mlubench"]
    assert main(["data", "get", "mlubenc"]) == 2
    assert "unknown data source 'mlubenc' (did you mean 'mlubench'" in capsys.readouterr().err


def test_an_offline_run_of_the_real_suites_names_the_expanded_path_and_the_command(data_dir, capsys, tmp_path):
    code = main(["--tasks", "mlubench,pulse", "--set", "generation.judge=rule", "--set", "generation.judge_args={}",
                 "--output", str(tmp_path / "out")])
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    pieces = line.split("; and ")  # every missing piece of both suites, in one line
    assert pieces[0] == (f"mu-eval: error: MLUBench release folder {data_dir / 'mlubench' / 'MLUBench'} not found "
                         "($MLUBENCH_DIR is not set); get it with `mu-eval data get mlubench` (or set $MLUBENCH_DIR "
                         "to the unzipped release)")
    assert any(p.startswith("mllmu_bench (PULSE's data): Hugging Face dataset 'MLLMMU/MLLMU-Bench' is not cached "
                            "here") and "mu-eval data get pulse" in p for p in pieces)
    assert any("model: args.pretrained: Hugging Face model 'llava-hf/llava-1.5-7b-hf'" in p for p in pieces)


def test_offline_with_the_default_judge_both_set_up_steps_come_in_one_line(data_dir, capsys, tmp_path, monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    code = main(["--tasks", "mlubench,pulse", "--output", str(tmp_path / "out")])
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    data, *others = line.split("; and ")
    assert data == (f"mu-eval: error: MLUBench release folder {data_dir / 'mlubench' / 'MLUBench'} not found "
                    "($MLUBENCH_DIR is not set); get it with `mu-eval data get mlubench` (or set $MLUBENCH_DIR to "
                    "the unzipped release)")
    judge = [p for p in others if p.startswith("judge openai_compatible (gpt-4o): no endpoint configured")]
    assert len(judge) == 1 and "judge=rule" in judge[0]  # said once for both suites
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.pt"))  # nothing trained


IDS = SHARED / "reference" / "mubench-forget-ids"


@pytest.mark.skipif(not IDS.exists(), reason="../shared/reference/mubench-forget-ids is missing")
def test_mubench_forget_lists_in_the_data_folder_are_checked_against_the_tasks_checksums(data_dir, capsys):
    import shutil

    target = data_dir / "mubench-forget-ids"
    assert main(["data", "check", "mubench-ucf101"]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 10  # one line per missing per-ratio mask
    shutil.copytree(IDS, target)
    for task in ("mubench-imdb", "mubench-ucf101", "mubench-ddi2013"):
        assert main(["data", "check", task]) == 0, capsys.readouterr().err
    (target / "imdb.txt").write_text((IDS / "imdb.txt").read_text() + "1\n")
    assert main(["data", "check", "mubench-imdb"]) == 1
    assert capsys.readouterr().err.startswith(f"mu-eval: problem: {target / 'imdb.txt'}: sha256 differs")
