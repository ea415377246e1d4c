"""The PyTorch backend: the forward pass in torch, gradients from torch.autograd.

Mirrors `manual/` file for file (mlp, optim), plus PyTorch interop:
`module` (an nn.Module of two nn.Linear layers, trainable with torch.optim) and `function`
(a torch.autograd.Function whose backward is the hand-derived formulas).
"""
