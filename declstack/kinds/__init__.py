"""One module per resource kind: its desired and observed shapes' diff, pure."""
