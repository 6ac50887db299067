"""Fire-safety doors: `safecampus report fire` (the remediation ledger) and `safecampus import fire`."""
