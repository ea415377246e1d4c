"""The PyTorch backend: the tutorial's forward pass in torch, gradients from torch.autograd.

Mirrors `manual/` file for file (network, gradients, train, backend), plus PyTorch interop:
`module` (an nn.Module of two nn.Linear layers, trainable with torch.optim) and `function`
(a torch.autograd.Function whose backward is the hand-derived formulas).
"""
