import pytest
import torch

from molprop.nn.dropout import ByteDropout


def test_drops_about_p_and_keeps_the_mean():
    layer = ByteDropout(0.2).train()
    torch.manual_seed(0)
    x = torch.ones(400, 300)
    out = layer(x)
    dropped = float((out == 0).float().mean())
    assert layer.p == pytest.approx(51 / 256)
    assert dropped == pytest.approx(layer.p, abs=0.005)
    assert float(out.mean()) == pytest.approx(1.0, abs=0.01)  # inverted dropout: kept ones scaled up
    assert torch.unique(out).tolist() == pytest.approx([0.0, 256 / 205])


def test_is_the_identity_in_eval_mode_or_at_zero():
    x = torch.randn(10, 7)
    assert torch.equal(ByteDropout(0.5).eval()(x), x)
    assert torch.equal(ByteDropout(0.0).train()(x), x)


def test_mask_follows_torch_seed_and_gradient_flows_through_kept_elements():
    layer = ByteDropout(0.3).train()
    torch.manual_seed(1)
    a = layer(torch.ones(50, 9))
    torch.manual_seed(1)
    x = torch.ones(50, 9, requires_grad=True)
    b = layer(x)
    assert torch.equal(a, b)
    b.sum().backward()
    assert torch.equal(x.grad, b.detach())  # d(out)/dx = mask x scale = out for x = 1


@pytest.mark.parametrize("p", [-0.1, 1.0, 0.999])  # 0.999 rounds to 256/256: a division by zero
def test_rejects_probabilities_outside_zero_one(p):
    with pytest.raises(ValueError, match="dropout"):
        ByteDropout(p)
    assert ByteDropout(0.998).threshold == 255


def test_the_params_check_refuses_a_dropout_that_rounds_to_one():
    from molprop.params_check import params_problems

    assert params_problems({"train": {"dropout": 0.999}}, require_keys=False) == [
        "train.dropout is 0.999; it must be <= 0.998"]
    assert params_problems({"train": {"dropout": 0.998}}, require_keys=False) == []
