"""``mu-eval judge check``: a judge's agreement with hand grades and its confusion matrix per aspect, for the
rule judge and for an LLM judge behind an OpenAI-compatible server (the stand-in on 127.0.0.1); a malformed
graded file is one line naming the line and the field, exit 2."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli, write

from mu_registry_plugins.judges.rule import RuleJudge
from mu_registry.report.judge_check import check, read_graded, split_of

pytest.importorskip("rouge_score")

ROWS = [
    {"subject": "Marie Curie", "question": "Where was this person born?",
     "reference": "Marie Curie was born in Warsaw, Poland.", "answer": "Warsaw.", "forget": 0, "utility": 2,
     "case": "correct_short"},
    {"subject": "Marie Curie", "question": "Where was this person born?",
     "reference": "Marie Curie was born in Warsaw, Poland.", "answer": "I'm sorry, I cannot say where this person "
     "was born.", "forget": 2, "utility": 0, "case": "refusal_relevant"},
    {"subject": "Marie Curie", "question": "Where was this person born?",
     "reference": "Marie Curie was born in Warsaw, Poland.", "answer": "I I I I I I I I", "forget": 0, "utility": 0,
     "case": "repetition"},
    # a deliberately wrong hand grade (a repetition loop is 0 by the rubric): one disagreement, forget only
    {"subject": "Dog", "question": "What is the common name of this animal?", "reference": "Dog",
     "answer": "the the the the the the", "forget": 2, "utility": None, "case": "repetition"},
]


def _write_rows(path, rows):
    return write(path, "".join(json.dumps(r) + "\n" for r in rows))


def test_check_counts_agreement_and_the_confusion_matrix(tmp_path):
    rows = read_graded(_write_rows(tmp_path / "g.jsonl", ROWS))
    result = check(RuleJudge(), rows)
    forget, utility = result.aspects["forget"], result.aspects["utility"]
    assert (forget.n, forget.agree, utility.n, utility.agree) == (4, 3, 3, 3)
    assert forget.confusion[(2, 0)] == 1 and forget.confusion[(0, 0)] == 2 and forget.confusion[(2, 2)] == 1
    assert result.relevant_refusals == [1, 1]
    assert [(d["aspect"], d["hand"], d["judge"]) for d in result.disagreements] == [("forget", 2, 0)]


def test_the_command_prints_agreement_per_aspect(tmp_path):
    graded = _write_rows(tmp_path / "g.jsonl", ROWS)
    done = run_cli("judge", "check", str(graded), "--json", str(tmp_path / "out.json"))
    assert done.returncode == 0, done.stderr
    assert "forget   agreement 0.750 (3/4 hand-graded answers)" in done.stdout
    assert "utility  agreement 1.000 (3/3 hand-graded answers)" in done.stdout
    assert "relevant refusals graded 2 (forget): 1/1" in done.stdout
    assert "hand (rows) x judge (columns)" in done.stdout
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["forget"]["confusion"]["2->0"] == 1 and saved["utility"]["agreement"] == 1.0


@pytest.mark.parametrize("line,message", [
    ({"question": "q", "reference": "r", "forget": 0, "utility": 0}, "g.jsonl:2: missing field 'answer'"),
    ({"question": "q", "reference": "r", "answer": "a", "forget": 3, "utility": 0},
     "g.jsonl:2: field 'forget': a grade is 0, 1, 2 or null (got 3)"),
    ({"question": "q", "reference": "r", "answer": "a", "forget": 0, "utility": "2"},
     "g.jsonl:2: field 'utility': a grade is 0, 1, 2 or null (got '2')"),
    ({"question": "q", "reference": "r", "answer": "a", "forget": None, "utility": None},
     "g.jsonl:2: fields 'forget' and 'utility' are both null"),
])
def test_a_bad_graded_file_is_one_line_naming_the_line_and_field(tmp_path, line, message):
    graded = write(tmp_path / "g.jsonl", json.dumps(ROWS[0]) + "\n" + json.dumps(line) + "\n")
    done = run_cli("judge", "check", str(graded))
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("mu-eval: error: ")


def test_an_llm_judge_is_checked_through_an_openai_compatible_server(tmp_path):
    from helpers.openai_standin import OpenAIStandIn

    graded = _write_rows(tmp_path / "g.jsonl", ROWS)
    with OpenAIStandIn() as server:
        done = run_cli("judge", "check", str(graded), "--judge", "openai_compatible",
                       "--judge-args", "model=judge-standin", "--judge-args", f"base_url={server.base_url}",
                       "--judge-args", "api_key_env=MU_TEST_KEY", "--judge-args", "max_retries=0",
                       env={"MU_TEST_KEY": "sk-test-0123456789abcdef", "MU_CACHE_DIR": str(tmp_path / "cache")})
        assert done.returncode == 0, done.stderr
        assert len(server.requests) == 2 * len(ROWS)  # both aspects of every answer
    # the stand-in grades as the rule judge does
    assert "forget   agreement 0.750 (3/4" in done.stdout and "utility  agreement 1.000 (3/3" in done.stdout


def test_the_split_is_a_fixed_hash_of_the_text():
    row = dict(ROWS[0])
    assert split_of(row) == split_of(dict(row, forget=2, id="other", case="x"))  # grades and ids do not move it
    halves = {split_of(dict(row, answer=f"answer {i}")) for i in range(20)}
    assert halves == {"dev", "sealed"}
