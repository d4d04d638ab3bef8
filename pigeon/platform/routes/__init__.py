"""HTTP routes, one module per resource; each handler calls one action."""
