"""The CI gate: does a candidate regress against the promoted baseline? (policy → evaluate →
reports; ``run_gate`` composes them with the compare pipeline)."""
