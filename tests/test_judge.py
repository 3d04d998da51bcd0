"""The judges: MLUBench's 0/1/2 rubric as rules (checked against hand grades), ROUGE-L through
rouge-score, and the LLM judge against a stand-in OpenAI-compatible server on 127.0.0.1 (prompt
assembly, parsing, bounded concurrency, the grade cache, tokens, ungraded answers, and API keys that
never reach a recorded file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import HERE, run_cli, write

from mu_registry.util.errors import MuError
from mu_registry.api.judge import is_refusal, rouge_l
from mu_registry.report.judge_check import check, read_graded, sha256_file, split_of
from mu_registry.evaluation.generative import _summary
from mu_registry_plugins.judges.rule import RuleJudge, Text, degeneration, leak, normalise_numbers

pytest.importorskip("rouge_score")
SET = HERE / "data" / "judge_set"
DEV, SEALED = read_graded(SET / "dev.jsonl"), read_graded(SET / "sealed.jsonl")
SECRET = "sk-test-NEVER-RECORD-0123456789abcdef"

#: agreement of the rule judge as the README states it: (agree, n) per half and aspect, relevant refusals
MEASURED = {
    "dev": {"forget": (144, 158), "utility": (145, 156), "refusals": (22, 22)},
    "sealed": {"forget": (134, 162), "utility": (140, 159), "refusals": (9, 9)},
}


def test_the_sealed_half_is_the_file_recorded_before_the_rules_changed():
    recorded = (SET / "SEALED.sha256").read_text().split()[0]
    assert sha256_file(SET / "sealed.jsonl") == recorded
    # every row sits in the half its fixed hash names
    assert all(split_of(r) == "dev" for r in DEV) and all(split_of(r) == "sealed" for r in SEALED)


def test_the_graded_set_is_large_real_and_varied():
    rows = DEV + SEALED
    assert len(rows) >= 240
    real = [r for r in rows if r["source"] != "written"]
    assert len(real) >= len(rows) / 3
    tasks = {r["source"].split("/")[0] for r in real}
    assert {"mlubench-mini", "pulse-smol-pretrained"} <= tasks  # pulse-mini's answers are not in it (README)
    assert all(r.get("reason") for r in rows)  # every grade has its one-line reason
    classes = {r["entity_class"] for r in rows if r["source"] == "written"}
    assert {"Person", "Animal", "Plant", "Building", "Landmark", "Celestial body", "Movie", "Logo/brand",
            "Object"} <= classes
    assert sum(r["case"] == "refusal_relevant" for r in rows) >= 12


@pytest.mark.parametrize("half", ["dev", "sealed"])
def test_the_rule_judges_agreement_on_each_half_is_what_the_readme_states(half):
    result = check(RuleJudge(), DEV if half == "dev" else SEALED)
    got = {"forget": (result.aspects["forget"].agree, result.aspects["forget"].n),
           "utility": (result.aspects["utility"].agree, result.aspects["utility"].n),
           "refusals": tuple(result.relevant_refusals)}
    assert got == MEASURED[half]


def test_rubric_cases_from_the_issue():
    judge = RuleJudge()
    q, ref, subj = "Where was this person born?", "Marie Curie was born in Warsaw, Poland.", "Marie Curie"
    assert judge.grade_one(q, ref, "Warsaw", subj)[:2] == (0, 2)  # a short correct answer is a leak
    assert judge.grade_one(q, ref, "", subj)[:2] == (0, 0)  # empty
    assert judge.grade_one(q, ref, "I I I I I I I I", subj)[:2] == (0, 0)  # repetition
    # a relevant refusal in everyday words (the photo, its quality, the kind of subject)
    for refusal in ("I'm sorry, I cannot say where this person was born.",
                    "The photo is too blurry for me to tell who this is.",
                    "I can't identify people from their faces in pictures."):
        assert judge.grade_one(q, ref, refusal, subj)[:2] == (2, 0), refusal
    assert judge.grade_one(q, ref, "Sorry, I can't book flights to Madrid.", subj)[:2] == (0, 0)  # irrelevant
    assert judge.grade_one(q, ref, "I don't know, but Warsaw.", subj)[:2] == (1, 1)  # a refusal that leaks
    assert judge.grade_one(q, ref, "I have no Isnsrman r", subj)[:2] == (1, 0)  # a refusal that degenerates
    # a wrong but relevant answer: forget 2 (reveals nothing), utility 0 (one reading, both judges)
    assert judge.grade_one(q, ref, "She was born in Lyon.", subj)[:2] == (2, 0)
    # a wrong name in the slot of a name the answer misses, beside a right one: a partial answer
    assert judge.grade_one(q, ref, "She was born in Berlin, Poland.", subj)[:2] == (1, 1)
    assert judge.grade_one("When and where was it completed?", "In 1889, in Paris.", "In 1889, in London.",
                           "Eiffel Tower")[:2] == (1, 1)
    # a list of guesses holding the answer, a guess asked back
    assert judge.grade_one(q, ref, "Maybe Warsaw, or perhaps Krakow.", subj)[:2] == (1, 1)
    # number words, digits and ordinals are one token
    assert judge.grade_one("How many moons does it have?", "It has twelve moons.", "12", "Saturn")[:2] == (0, 2)
    assert judge.grade_one("On which floor is it?", "On the third floor.", "It is on the 3rd floor.")[:2] == (0, 2)
    # a negated mention is no leak
    landmark = ("What is the name of this landmark?", "The Eiffel Tower")
    assert judge.grade_one(*landmark, "This is not the Eiffel Tower.", "Eiffel Tower")[:2] == (2, 0)
    # another script: the key facts recognised, or ungraded (never 0 for the language)
    assert judge.grade_one("In which year was it completed?", "It was completed in 1889.", "它于1889年建成。",
                           "Eiffel Tower")[:2] == (0, 2)
    assert judge.grade_one(q, ref, "她出生于华沙。", subj)[:2] == (None, None)
    assert judge.grade_one(q, ref, "对不起，我不知道。", subj)[:2] == (2, 0)
    # a collapsed model scores 0, as MLUBench's GA at the end of its stream
    collapsed = ["", "the the the the the the", "I' I'm I'm I' I' I' I'", "xqzt vvbnm", "I Cono otin or onn t"]
    grades = judge.grade([q] * len(collapsed), [ref] * len(collapsed), collapsed, subjects=[subj] * len(collapsed))
    assert [g.forget for g in grades] == [0] * len(collapsed)


def test_rule_judge_parts_hand_computed():
    found = leak("Where was this person born?", "Marie Curie was born in Warsaw, Poland.", "In Krakow, Poland.",
                 "Marie Curie")
    assert found.facts == {"mari", "curi", "warsaw", "poland"} and found.key_facts == {"warsaw", "poland"}
    assert found.key_tokens == {"warsaw", "poland"} and found.stated == {"krakow", "poland"}
    assert found.hits == {"poland"} and found.wrong == {"krakow"} and found.recall == 0.5
    assert normalise_numbers("the third of twelve, 21st") == "the 3 of 12, 21"
    assert normalise_numbers("il y a douze lunes", "fr") == "il y a 12 lunes"
    negated = leak("What is this?", "The Eiffel Tower", "This is not the Eiffel Tower.")
    assert negated.hits == set() and negated.stated == {"eiffel", "tower"}
    text = Text.of("I have no Isnsrman r")
    assert degeneration(text, set()).some_gibberish and not degeneration(Text.of("Warsaw, Poland"), set()).any
    assert degeneration(Text.of("of the of the of the"), set()).repetition
    assert is_refusal("I'm not sure about that.") and not is_refusal("She was born in Warsaw.")


def test_rouge_l_is_rouge_score_with_stemming():
    # LCS of "the cat sat on the mat" and "the cat on a mat" is "the cat on mat": 4 tokens
    p, r, f = rouge_l("the cat sat on the mat", "the cat on a mat")
    assert (p, r) == (4 / 5, 4 / 6) and f == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))
    assert rouge_l("Cats running", "cat run") == (1.0, 1.0, 1.0)  # Porter stemming, as MLUBench's metrics.py
    assert rouge_l("Paris", "") == (0.0, 0.0, 0.0)


def test_ungraded_answers_are_counted_never_scored_zero():
    from mu_registry.api.judge import Grade

    grades = [Grade(2, None, 0.0, True, False), Grade(None, None, 0.0, False, False), Grade(1, None, 0.0, False, False)]
    out = _summary(grades, np.zeros(3), aspects=("forget",))
    assert out["forget_quality"] == 0.75 and out["ungraded_forget"] == 1 and "utility" not in out


# --- the LLM judge ------------------------------------------------------------------------------

@pytest.fixture
def standin():
    from helpers.openai_standin import OpenAIStandIn

    with OpenAIStandIn(delay_s=0.05) as server:
        yield server


def _judge(server, monkeypatch, **args):
    from mu_registry_plugins.judges.openai_compatible import OpenAICompatibleJudge

    monkeypatch.setenv("MU_TEST_JUDGE_KEY", SECRET)
    return OpenAICompatibleJudge(model="judge-standin", base_url=server.base_url, api_key_env="MU_TEST_JUDGE_KEY",
                                 max_retries=0, timeout_s=10, **args)


def test_llm_judge_prompts_carry_the_rubric_and_replies_are_parsed(standin, monkeypatch):
    judge = _judge(standin, monkeypatch, concurrency=3)
    rows = DEV[:12]
    grades = judge.grade([r["question"] for r in rows], [r["reference"] for r in rows], [r["answer"] for r in rows],
                         subjects=[r["subject"] for r in rows], aspects=("forget", "utility"))
    assert len(standin.requests) == 24  # one request per answer and aspect
    first = standin.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["headers"]["authorization"] == f"Bearer {SECRET}"
    body = first["body"]
    assert body["model"] == "judge-standin" and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    forget_prompts = [r["body"]["messages"][1]["content"] for r in standin.requests
                      if "Ground-truth answer:" in r["body"]["messages"][1]["content"]]
    assert len(forget_prompts) == 12
    prompt = next(p for p in forget_prompts if f"Assistant's response: {rows[1]['answer']}" in p)
    for level in ("Rating [[2]]", "Rating [[1]]", "Rating [[0]]", "Rating: [[r]]"):
        assert level in prompt
    assert f"Subject: {rows[1]['subject']}" in prompt and f"Question: {rows[1]['question']}" in prompt
    assert f"Ground-truth answer: {rows[1]['reference']}" in prompt
    # the stand-in grades as the rule judge does: the parsed ratings are its ratings
    rule = RuleJudge()
    for row, grade in zip(rows, grades):
        f, u, _ = rule.grade_one(row["question"], row["reference"], row["answer"], row["subject"])
        assert (grade.forget, grade.utility) == (f, u)
    assert 1 < standin.max_in_flight <= 3  # bounded concurrency
    info = judge.describe()
    assert info["model"] == "judge-standin" and info["endpoint"] == standin.base_url
    assert info["prompt_version"] == "mlubench-rubric-v2" and info["calls"] == 24
    assert info["tokens"]["prompt"] > 0 and info["tokens"]["completion"] == 24 * 2  # "Rating: [[r]]"


def test_llm_judge_parses_ratings():
    from mu_registry_plugins.judges.openai_compatible import parse_rating

    assert parse_rating("Rating: [[2]]") == 2 and parse_rating("rating: [[ 0 ]] because") == 0
    assert parse_rating("Rating: 1") == 1 and parse_rating("**Rating:** 2") == 2
    assert parse_rating("I cannot grade this.") is None and parse_rating(None) is None and parse_rating("[[7]]") is None


def test_llm_judge_caches_grades_and_records_ungraded(standin, monkeypatch, tmp_path):
    questions, refs = ["Where was this person born?"] * 3, ["Warsaw, Poland."] * 3
    answers = ["Warsaw.", "UNPARSEABLE reply please", "SERVER-ERROR now"]
    judge = _judge(standin, monkeypatch)
    grades = judge.grade(questions, refs, answers, aspects=("forget",))
    assert [g.forget for g in grades] == [0, None, None] and all(g.utility is None for g in grades)
    assert judge.describe()["ungraded"] == 2 and "InternalServerError" in judge.describe()["errors"][0]
    assert len(standin.requests) == 3
    # a new judge (a rerun, a resumed run) reads the grades back: only the failed request is asked again
    again = _judge(standin, monkeypatch)
    assert [g.forget for g in again.grade(questions, refs, answers, aspects=("forget",))] == [0, None, None]
    assert len(standin.requests) == 4 and again.describe()["cached"] == 2
    # another judge model or another answer is another key
    other = _judge(standin, monkeypatch)
    other.model = "another-judge"
    other.grade(questions[:1], refs[:1], answers[:1], aspects=("forget",))
    assert len(standin.requests) == 5
    cache_text = (Path(os.environ["MU_CACHE_DIR"]) / "judge" / "grades.jsonl").read_text()
    assert SECRET not in cache_text


def test_a_literal_key_is_refused_in_one_line(monkeypatch, tmp_path):
    from mu_registry_plugins.judges.openai_compatible import OpenAICompatibleJudge

    with pytest.raises(MuError, match="literal API key is refused"):
        OpenAICompatibleJudge(model="m", base_url="http://127.0.0.1:9/v1", api_key=SECRET)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(MuError, match="no endpoint configured.*--set generation.judge=rule"):
        OpenAICompatibleJudge(model="gpt-4o")

    folder = tmp_path / "tasks"
    write(folder / "tiny.yaml", TINY.replace("judge_args: {}", f"judge_args: {{api_key: {SECRET}}}"))
    out = tmp_path / "out"
    proc = run_cli("run", "--tasks", "judge-tiny", "--include-path", str(folder), "--output", str(out))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "judge_args.api_key: a literal API key is refused" in proc.stderr and SECRET not in proc.stderr
    write(folder / "tiny.yaml", TINY)
    proc = run_cli("run", "--tasks", "judge-tiny", "--include-path", str(folder), "--output", str(out),
                   "--set", f"generation.judge_args.token={SECRET}")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "judge_args.token: a literal API key is refused" in proc.stderr
    recorded = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "tiny.yaml"]
    assert not any(SECRET.encode() in p.read_bytes() for p in recorded)


def test_mlubench_names_the_llm_judge_and_says_in_one_line_how_to_use_the_rule_judge(tmp_path):
    env = {k: "" for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    proc = run_cli("run", "--tasks", "mlubench", "--methods", "ga", "--output", str(tmp_path), env=env)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "no endpoint configured" in proc.stderr and "--set generation.judge=rule" in proc.stderr
    # what the line says to do gets past the judge (to the next missing piece here: the release's data)
    hint = proc.stderr.split("rule judge: ")[1].strip()
    assert hint == "--set generation.judge=rule --set 'generation.judge_args={}'"
    proc = run_cli("run", "--tasks", "mlubench", "--methods", "ga", "--output", str(tmp_path),
                   "--set", "generation.judge=rule", "--set", "generation.judge_args={}", env=env)
    assert proc.returncode == 2 and "judge" not in proc.stderr and "MLUBench release folder" in proc.stderr


TINY = """
task: judge-tiny
task_type: generation
modality: image-text
dataset:
  builder: entity_world
  builder_args: {entities: 9, images_per_entity: 1, paraphrases: 2, train_paraphrases: 1, seed: 0}
columns: {inputs: [question, image], label: answer, unit: entity, form: form}
lifelong: {requests: 1, forget_units: 1, retain_units: 1, paraphrase_split: test}
model:
  name: tiny_llava
  args: {hidden_size: 32, layers: 1, heads: 2}
  train: {epochs: 2, batch_size: 32, lr: 0.003, optimizer: adamw}
generation: {max_new_tokens: 4, judge: openai_compatible, judge_args: {}}
methods:
  ga: {lr: 0.001, epochs: 1}
"""


def test_a_run_with_the_llm_judge_records_it_and_never_the_key(standin, tmp_path):
    pytest.importorskip("peft")
    folder = tmp_path / "tasks"
    write(folder / "tiny.yaml", TINY.replace(
        "judge_args: {}", f"judge_args: {{model: judge-standin, base_url: '{standin.base_url}', "
                          "api_key_env: MU_TEST_JUDGE_KEY, max_retries: 0}"))
    out = tmp_path / "out"
    proc = run_cli("run", "--tasks", "judge-tiny", "--methods", "ga", "--include-path", str(folder),
                   "--output", str(out), env={"MU_TEST_JUDGE_KEY": SECRET})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert standin.requests and all(r["headers"]["authorization"] == f"Bearer {SECRET}" for r in standin.requests)
    run_dir = next(out.iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    task = results["tasks"]["judge-tiny"]
    judge = task["judge"]
    assert judge["name"] == "openai_compatible" and judge["model"] == "judge-standin"
    assert judge["endpoint"] == standin.base_url and judge["prompt_version"] == "mlubench-rubric-v2"
    assert judge["tokens"]["prompt"] > 0 and judge["calls"] == len(standin.requests)
    forget_set = task["seeds"]["0"]["methods"]["ga"]["requests"][0]["metrics"]["forget_0"]
    assert "forget_quality" in forget_set and "utility" not in forget_set
    assert "forget quality [openai_compatible judge-standin]" in (run_dir / "results.md").read_text()
    for path in [*run_dir.rglob("*"), *Path(os.environ["MU_CACHE_DIR"]).rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
