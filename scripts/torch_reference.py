#!/usr/bin/env python3
"""PyTorch's side of the gradient check (tests/it/pytorch.rs).

Builds gradscope's MLP in PyTorch from a safetensors checkpoint (layer{i}.weight
in (out, in) layout, layer{i}.bias), runs one batch through it, and writes
the loss, every parameter's gradient and the parameters after one Adam step
(lr as given, betas 0.9/0.999, eps 1e-8, no weight decay) to a safetensors file:
  loss, layer{i}.weight.grad, layer{i}.bias.grad, layer{i}.weight, layer{i}.bias
"""
import argparse

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def activation(name, slope):
    return {
        "sigmoid": torch.sigmoid,
        "relu": F.relu,
        "leaky_relu": lambda x: F.leaky_relu(x, slope),
        "tanh": torch.tanh,
        "elu": F.elu,
        "selu": F.selu,
        "gelu": F.gelu,  # exact (erf) form
        "softplus": F.softplus,  # beta 1, threshold 20
        "linear": lambda x: x,
    }[name]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--batch", required=True, help="safetensors with x (B, inputs) f32, y (B,) i64")
    p.add_argument("--activation", required=True)
    p.add_argument("--leaky-slope", type=float, default=0.2)
    p.add_argument("--residual", action="store_true")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    torch.manual_seed(0)
    weights = load_file(args.weights)
    layers = len([k for k in weights if k.endswith(".weight")])
    params = []
    for i in range(1, layers + 1):
        w = torch.nn.Parameter(weights[f"layer{i}.weight"].clone())
        b = torch.nn.Parameter(weights[f"layer{i}.bias"].clone())
        params.append((w, b))
    batch = load_file(args.batch)
    x, y = batch["x"], batch["y"].long()
    act = activation(args.activation, args.leaky_slope)

    h = x
    for i, (w, b) in enumerate(params[:-1]):
        a = act(F.linear(h, w, b))
        h = h + a if args.residual and i > 0 else a
    w, b = params[-1]
    loss = F.cross_entropy(F.linear(h, w, b), y)
    loss.backward()

    out = {"loss": loss.detach().reshape(1)}
    for i, (w, b) in enumerate(params, start=1):
        out[f"layer{i}.weight.grad"] = w.grad.clone()
        out[f"layer{i}.bias.grad"] = b.grad.clone()
    flat = [t for pair in params for t in pair]
    adam = torch.optim.Adam(flat, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    adam.step()
    for i, (w, b) in enumerate(params, start=1):
        out[f"layer{i}.weight"] = w.detach().clone()
        out[f"layer{i}.bias"] = b.detach().clone()
    save_file(out, args.out)


if __name__ == "__main__":
    main()
