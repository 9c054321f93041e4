"""Pure analysis: source maps, rules and rendering. No torch, no I/O, no LSP types."""
