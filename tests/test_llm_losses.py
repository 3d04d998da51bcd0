"""The LLM unlearning losses on a tiny Llama built from a config: masking, their defining
properties, and real optimisation steps moving the model the way each paper intends."""

from __future__ import annotations

import copy
import math

import pytest
import torch

import mu_registry.training.losses as L

transformers = pytest.importorskip("transformers")


def tiny_llama(seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    return transformers.LlamaForCausalLM(cfg).eval()


def qa(prompt: list[int], answer: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and labels with the prompt masked (-100), as every loss expects."""
    ids = torch.tensor([prompt + answer])
    labels = ids.clone()
    labels[0, :len(prompt)] = L.IGNORE
    return ids, labels


FORGET = qa([1, 5, 6, 7], [11, 12, 13])
RETAIN = qa([1, 8, 9], [21, 22, 23, 24])
REFUSAL = qa([1, 5, 6, 7], [30, 31])


def logits(model, pair):
    return model(input_ids=pair[0]).logits


def test_answer_nll_scores_only_answer_tokens():
    torch.manual_seed(0)
    ids, labels = FORGET
    lg = torch.randn(1, ids.shape[1], 40)
    manual = -torch.log_softmax(lg[0, 3:-1], -1)[torch.arange(3), torch.tensor([11, 12, 13])].mean()
    assert torch.allclose(L.answer_nll(lg, labels), manual)
    changed = lg.clone()
    changed[0, :3] += torch.randn(3, 40) * 5  # positions that predict prompt tokens
    assert torch.allclose(L.answer_nll(changed, labels), manual)


def _steps(model, loss_fn, n=15, lr=0.05):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for _ in range(n):
        opt.zero_grad()
        loss_fn(model).backward()
        opt.step()
    model.eval()


def test_gradient_ascent_and_idk_move_the_forget_answer_as_intended():
    model = tiny_llama()
    with torch.no_grad():
        before = L.answer_nll(logits(model, FORGET), FORGET[1]).item()
        refusal_before = L.answer_nll(logits(model, REFUSAL), REFUSAL[1]).item()
    ga = copy.deepcopy(model)
    _steps(ga, lambda m: L.gradient_ascent(logits(m, FORGET), FORGET[1]), n=5)
    with torch.no_grad():
        assert L.answer_nll(logits(ga, FORGET), FORGET[1]).item() > before + 0.1
    _steps(model, lambda m: L.idk(logits(m, REFUSAL), REFUSAL[1], logits(m, RETAIN), RETAIN[1]))
    with torch.no_grad():
        assert L.answer_nll(logits(model, REFUSAL), REFUSAL[1]).item() < refusal_before - 0.5


def test_answer_only_kl_variant_is_zero_at_the_reference_and_ignores_the_prompt():
    torch.manual_seed(1)
    ids, labels = RETAIN
    ref = torch.randn(1, ids.shape[1], 40)
    assert L.kl_to_reference(ref.clone(), ref, labels).abs().item() < 1e-6
    prompt_only = ref.clone()
    prompt_only[0, :2] += 3.0 * torch.randn(2, 40)  # positions 0-1 predict prompt tokens
    assert L.kl_to_reference(prompt_only, ref, labels).abs().item() < 1e-6
    answer = ref.clone()
    answer[0, 4] += 3.0 * torch.randn(40)
    assert L.kl_to_reference(answer, ref, labels).item() > 0.01


def test_npo_at_the_reference_is_2_log2_over_beta_and_its_gradient_is_sequence_ga():
    model, ref = tiny_llama(), tiny_llama()
    beta = 0.1
    loss = L.npo(logits(model, FORGET), logits(ref, FORGET).detach(), FORGET[1], beta=beta)
    assert math.isclose(loss.item(), 2 / beta * math.log(2), rel_tol=1e-5)
    grad_npo = torch.autograd.grad(loss, model.model.embed_tokens.weight)[0]
    lp, _ = L.sequence_logprob(logits(model, FORGET), FORGET[1])
    grad_ga = torch.autograd.grad(lp.mean(), model.model.embed_tokens.weight)[0]
    assert torch.allclose(grad_npo, grad_ga, atol=1e-6)
    _steps(model, lambda m: L.npo(logits(m, FORGET), logits(ref, FORGET).detach(), FORGET[1], beta=beta), n=5)
    with torch.no_grad():
        assert L.sequence_logprob(logits(model, FORGET), FORGET[1])[0] < L.sequence_logprob(
            logits(ref, FORGET), FORGET[1])[0] - 0.1


def test_simnpo_is_length_normalised_and_needs_no_reference():
    torch.manual_seed(2)
    ids, labels = FORGET
    lg = torch.randn(1, ids.shape[1], 40, requires_grad=True)
    lp, n = L.sequence_logprob(lg, labels)
    assert n.item() == 3
    # Unlearn-Simple: -(2/beta) log sigmoid(beta * (NLL/|y| - gamma)), the margin gamma inside the beta
    expected = -(2 / 2.5) * torch.nn.functional.logsigmoid(2.5 * (-lp / 3 - 0.5))
    assert torch.allclose(L.simnpo(lg, labels, beta=2.5, gamma=0.5), expected.mean())
    worse = lg.detach().clone()
    worse[0, 3, 11] -= 5.0  # the first answer token made less likely
    assert L.simnpo(worse, labels).item() < L.simnpo(lg.detach(), labels).item()


def test_dpo_starts_at_2_log2_over_beta_and_moves_toward_the_refusal():
    model, ref = tiny_llama(), tiny_llama()
    args = lambda m: (logits(m, REFUSAL), logits(ref, REFUSAL).detach(), REFUSAL[1],  # noqa: E731
                      logits(m, FORGET), logits(ref, FORGET).detach(), FORGET[1])
    assert math.isclose(L.dpo(*args(model), beta=0.1).item(), 2 / 0.1 * math.log(2), rel_tol=1e-5)
    assert math.isclose(L.dpo(*args(model), scale=1.0).item(), math.log(2), rel_tol=1e-5)  # plain DPO

    def margin(m):
        with torch.no_grad():
            return (L.sequence_logprob(logits(m, REFUSAL), REFUSAL[1])[0]
                    - L.sequence_logprob(logits(m, FORGET), FORGET[1])[0]).item()
    start = margin(model)
    _steps(model, lambda m: L.dpo(*args(m), beta=0.5, scale=1.0), n=10)
    assert margin(model) > start + 0.5
    assert L.dpo(*args(model), scale=1.0).item() < math.log(2)


def test_grad_diff_combines_ascent_and_descent():
    model = tiny_llama()
    f, r = logits(model, FORGET), logits(model, RETAIN)
    expected = -L.answer_nll(f, FORGET[1]) + 0.5 * L.answer_nll(r, RETAIN[1])
    assert torch.allclose(L.grad_diff(f, FORGET[1], r, RETAIN[1], retain_weight=0.5), expected)
    ga_klr = L.ga_klr(f, FORGET[1], r, r.detach(), RETAIN[1])
    assert torch.allclose(ga_klr, -L.answer_nll(f, FORGET[1]), atol=1e-6)  # KL to itself is 0


def test_rmu_steers_forget_activations_and_holds_retain_ones():
    torch.manual_seed(3)
    control = torch.nn.functional.normalize(torch.rand(16), dim=0)
    retain = torch.randn(2, 5, 16)
    at_target = (6.5 * control).expand(2, 4, 16).clone()
    assert L.rmu(at_target, control, retain, retain.clone()).item() < 1e-10
    moved = retain + 0.1
    mask = torch.zeros(2, 5)
    assert L.rmu(at_target, control, moved, retain, retain_mask=mask).item() < 1e-10  # masked out
    assert L.rmu(at_target, control, moved, retain, alpha=1.0).item() == pytest.approx(0.01, rel=1e-4)
    assert L.rmu(torch.zeros(2, 4, 16), control, retain, retain).item() == pytest.approx(6.5 ** 2 / 16, rel=1e-4)


# ---------------------------------------------------------------- hand-computed values
# Fixed tiny inputs (vocabulary of 2): a logit row [ln 3, 0] gives p = (3/4, 1/4), a row [0, 0] gives (1/2, 1/2).
# A sequence "prompt, a1, a2" with labels [-100, a1, a2]: position 0 predicts a1, position 1 predicts a2.
LN3 = math.log(3.0)


def _seq(rows: list[list[float]], answer: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor([rows + [[0.0, 0.0]]]), torch.tensor([[L.IGNORE] + answer])


F_LOGITS, F_LABELS = _seq([[LN3, 0.0], [0.0, 0.0]], [0, 1])  # log pi(y_f) = ln(3/4) + ln(1/2) = ln 0.375
F_REF = torch.zeros_like(F_LOGITS)  # the reference: log pi_ref(y_f) = 2 ln(1/2) = ln 0.25
R_LOGITS, R_LABELS = _seq([[LN3, 0.0], [0.0, 0.0]], [1, 1])  # a refusal: ln(1/4) + ln(1/2) = ln 0.125


def test_nll_forms_by_hand():
    assert L.sequence_nll(F_LOGITS, F_LABELS).item() == pytest.approx(-math.log(0.375), rel=1e-6)
    assert L.answer_nll(F_LOGITS, F_LABELS).item() == pytest.approx(-math.log(0.375) / 2, rel=1e-6)
    assert L.gradient_ascent(F_LOGITS, F_LABELS).item() == pytest.approx(math.log(0.375) / 2, rel=1e-6)
    # LUMoE's released expert loss (llava_trainer.py `po`): the refusal's NLL summed over its tokens
    assert L.refusal_nll(R_LOGITS, R_LABELS).item() == pytest.approx(math.log(8.0), rel=1e-6)


def test_npo_by_hand():
    # -(2/beta) log sigmoid(-beta * ln(0.375/0.25)) = -(2/beta) log(1 / (1 + 1.5^beta))
    for beta in (0.1, 5.0):
        expected = -(2 / beta) * math.log(1 / (1 + 1.5 ** beta))
        assert L.npo(F_LOGITS, F_REF, F_LABELS, beta=beta).item() == pytest.approx(expected, rel=1e-5)


def test_idk_dpo_by_hand_has_the_2_over_beta_scale():
    # margin = ln(0.125/0.25) - ln(0.375/0.25) = ln(1/3); -(2/0.1) log sigmoid(0.1 ln(1/3)) = 20 log(1 + 3^0.1)
    expected = 20 * math.log(1 + 3 ** 0.1)
    got = L.dpo(R_LOGITS, torch.zeros_like(R_LOGITS), R_LABELS, F_LOGITS, F_REF, F_LABELS, beta=0.1)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert L.dpo(R_LOGITS, torch.zeros_like(R_LOGITS), R_LABELS, F_LOGITS, F_REF, F_LABELS, beta=0.1,
                 scale=1.0).item() == pytest.approx(expected / 20, rel=1e-5)


def test_simnpo_by_hand():
    # NLL/|y| = -ln(0.375)/2; -(2/beta) log sigmoid(beta * (NLL/|y| - gamma)) = (2/beta) log(1 + e^{-beta(...)})
    for beta, gamma in ((2.5, 0.0), (4.5, 0.5)):
        x = beta * (-math.log(0.375) / 2 - gamma)
        expected = (2 / beta) * math.log(1 + math.exp(-x))
        assert L.simnpo(F_LOGITS, F_LABELS, beta=beta, gamma=gamma).item() == pytest.approx(expected, rel=1e-5)


def test_kl_over_every_position_batchmean_by_hand():
    # sequence 1: position 0 is (3/4, 1/4) against the reference's (1/2, 1/2): KL = 1/2 ln(4/3); the other
    # positions and all of sequence 2 equal the reference. batchmean over the 2 x 3 flattened positions.
    cur = torch.zeros(2, 3, 2)
    cur[0, 0] = torch.tensor([LN3, 0.0])
    ref = torch.zeros(2, 3, 2)
    kl_pos0 = 0.5 * math.log(4 / 3)
    assert L.kl_all_positions(cur, ref).item() == pytest.approx(kl_pos0 / 6, rel=1e-5)
    # the answer-only variant: only position 0 predicts an answer token (labels [-100, 1, -100])
    labels = torch.tensor([[L.IGNORE, 1, L.IGNORE], [L.IGNORE, 1, L.IGNORE]])
    assert L.kl_to_reference(cur, ref, labels).item() == pytest.approx(kl_pos0 / 2, rel=1e-5)
    # GA+KLR: -NLL_f (token mean) + KL
    got = L.ga_klr(F_LOGITS, F_LABELS, cur, ref, labels, kl_weight=1.0)
    assert got.item() == pytest.approx(math.log(0.375) / 2 + kl_pos0 / 6, rel=1e-5)


def test_rmu_by_hand():
    # u = (1,1,1,1)/2, c = 2: the target is (1,1,1,1); forget activations 0 -> mse 1; retain off by 0.1 -> 0.01
    control = torch.full((4,), 0.5)
    forget = torch.zeros(1, 2, 4)
    retain, frozen = torch.zeros(1, 2, 4), torch.full((1, 2, 4), 0.1)
    assert L.rmu(forget, control, retain, frozen, steering_coeff=2.0, alpha=1200.0).item() == pytest.approx(
        1.0 + 1200 * 0.01, rel=1e-5)
    # the reference averages every position (padding too); the masked variant only the real tokens
    frozen[0, 1] = 1.1  # a padding position far off
    mask = torch.tensor([[1, 0]])
    assert L.rmu(forget, control, retain, frozen, 2.0, 1.0).item() == pytest.approx(1.0 + (0.01 + 1.21) / 2, rel=1e-5)
    assert L.rmu(forget, control, retain, frozen, 2.0, 1.0, mask, mask).item() == pytest.approx(1.01, rel=1e-5)


def test_idk_is_one_token_mean_over_refusals_and_retain_answers_as_tofu():
    # TOFU dataloader.py l.134-145 (locuslab/tofu @ bdc209ea7c6cc2e7079ea1afb6468d3ddcc65f8e): the refusal and
    # retain batches are concatenated and the loss is the model's outputs.loss, one mean over every labelled token.
    # Refusal: 2 tokens, NLL ln 4 + ln 2 = ln 8. Retain: 3 tokens at (3/4, 1/2, 3/4): 2 ln(4/3) + ln 2.
    retain_logits, retain_labels = torch.tensor([[[LN3, 0.0], [0.0, 0.0], [LN3, 0.0], [0.0, 0.0]]]), \
        torch.tensor([[L.IGNORE, 0, 1, 0]])
    expected = (math.log(8.0) + 2 * math.log(4 / 3) + math.log(2.0)) / 5
    assert L.idk(R_LOGITS, R_LABELS, retain_logits, retain_labels).item() == pytest.approx(expected, rel=1e-6)
    # not the sum of the two token means (this project's idk before: ln 8 / 2 + (2 ln(4/3) + ln 2) / 3)
    assert abs(expected - (math.log(8.0) / 2 + (2 * math.log(4 / 3) + math.log(2.0)) / 3)) > 0.5
    # the concatenated, padded batch of TOFU scored as one: the same number
    padded = torch.cat([torch.cat([R_LOGITS, torch.zeros(1, 1, 2)], 1), retain_logits])
    labels = torch.cat([torch.cat([R_LABELS, torch.tensor([[L.IGNORE]])], 1), retain_labels])
    assert L.answer_nll(padded, labels).item() == pytest.approx(expected, rel=1e-6)
    # without a retain batch: the refusals' token mean
    assert L.idk(R_LOGITS, R_LABELS).item() == pytest.approx(math.log(8.0) / 2, rel=1e-6)


def test_mlubench_po_is_the_refusals_summed_nll_batch_mean():
    # MLUBench llava_trainer.py l.258-293 (lihe-maxsize/Lifelong_Unlearning_main @ cf6579c8, LLaVA_unlearning_main.zip):
    # loss = -idk_loss_current.mean(), idk_loss_current = -get_batch_loss(idk logits): each refusal's NLL summed
    # over its tokens (CrossEntropyLoss(reduction='none', ignore_index=-100).sum(-1)), then the batch mean.
    # Refusal 1: 2 tokens, ln 8; refusal 2: 1 token at 3/4 then padding, ln(4/3).
    logits = torch.tensor([[[LN3, 0.0], [0.0, 0.0], [0.0, 0.0]], [[LN3, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    labels = torch.tensor([[L.IGNORE, 1, 1], [L.IGNORE, 0, L.IGNORE]])
    expected = (math.log(8.0) + math.log(4 / 3)) / 2
    assert L.po(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    assert L.po is L.refusal_nll  # LUMoE's experts train with it
    # not a token mean ((ln 8 + ln 4/3) / 3), and no retain term
    assert abs(expected - (math.log(8.0) + math.log(4 / 3)) / 3) > 0.3
