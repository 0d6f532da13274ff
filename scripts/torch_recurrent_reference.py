#!/usr/bin/env python3
"""PyTorch's side of the recurrent gradient check (tests/it/pytorch.rs).

Builds nn.RNN(nonlinearity='tanh') / nn.LSTM / nn.GRU (one layer, batch_first)
and an nn.Linear head on the last hidden state from a safetensors file of
gradscope's weights (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0,
head.weight, head.bias), runs one batch (x (B, T, I) f32, y (B,) i64) and
writes to a safetensors file:
  loss, logits, grad.<name> (every parameter's gradient of the mean
  cross-entropy), clipped.<name> (the same after
  torch.nn.utils.clip_grad_norm_(max_norm)), total_norm, and hgrad (T, B, H):
  dL/dh_t for t = 1..T.

The parameter gradients come from one call of the module on the whole
sequence; dL/dh_t from a second run of the same module one step at a time,
each step's hidden state kept with retain_grad (the total derivative through
every later step and the head). Both runs' logits must agree.
"""
import argparse

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def build(cell, inputs, hidden):
    if cell == "rnn":
        return torch.nn.RNN(inputs, hidden, nonlinearity="tanh", batch_first=True)
    if cell == "lstm":
        return torch.nn.LSTM(inputs, hidden, batch_first=True)
    return torch.nn.GRU(inputs, hidden, batch_first=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cell", required=True, choices=["rnn", "lstm", "gru"])
    p.add_argument("--weights", required=True)
    p.add_argument("--batch", required=True)
    p.add_argument("--max-norm", type=float, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    weights = load_file(args.weights)
    hidden = weights["weight_hh_l0"].shape[1]
    inputs = weights["weight_ih_l0"].shape[1]
    rnn = build(args.cell, inputs, hidden)
    head = torch.nn.Linear(hidden, weights["head.weight"].shape[0])
    with torch.no_grad():
        for name, param in rnn.named_parameters():
            param.copy_(weights[name])
        head.weight.copy_(weights["head.weight"])
        head.bias.copy_(weights["head.bias"])
    named = list(rnn.named_parameters()) + [("head.weight", head.weight), ("head.bias", head.bias)]
    batch = load_file(args.batch)
    x, y = batch["x"], batch["y"].long()

    # The whole sequence at once: the parameters' gradients.
    out, _ = rnn(x)
    logits = head(out[:, -1])
    loss = F.cross_entropy(logits, y)
    loss.backward()
    result = {"loss": loss.detach().reshape(1), "logits": logits.detach()}
    for name, param in named:
        result[f"grad.{name}"] = param.grad.detach().clone()
    total = torch.nn.utils.clip_grad_norm_([p for _, p in named], args.max_norm)
    result["total_norm"] = total.detach().reshape(1)
    for name, param in named:
        result[f"clipped.{name}"] = param.grad.detach().clone()

    # One step at a time: dL/dh_t.
    rnn.zero_grad()
    head.zero_grad()
    state = None
    hs = []
    for t in range(x.shape[1]):
        _, state = rnn(x[:, t : t + 1], state)
        h = state[0] if args.cell == "lstm" else state
        h.retain_grad()
        hs.append(h)
    step_logits = head(hs[-1][0])
    assert torch.allclose(step_logits, logits, rtol=1e-5, atol=1e-6)
    F.cross_entropy(step_logits, y).backward()
    result["hgrad"] = torch.stack([h.grad[0] for h in hs]).contiguous()
    save_file({k: v.contiguous() for k, v in result.items()}, args.out)


if __name__ == "__main__":
    main()
