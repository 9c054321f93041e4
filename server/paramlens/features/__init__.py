"""LSP features of the paramlens server: one module per feature, each with ``register(server)``."""
