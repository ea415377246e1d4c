"""The JAX backend: the forward pass written once, every derivative from `jax.grad`/`jax.vjp`.

float64 runs inside ``jax.enable_x64(True)`` for the duration of each call only (see
`jax_impl.precision`), so a user's own JAX code keeps whatever x64 setting it had.
"""
