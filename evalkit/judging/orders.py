"""Which judge order a prompt gets when each pair is judged only once.

With ``both_orders = false`` a judge that prefers the first answer shown would shift the win
rate if the candidate were always shown first (equal models and a judge that picks the first
answer on 20% of pairs come out at 0.60). Instead the order is a fair coin per prompt and
sample, so position bias adds noise, not a shift, and the interval stays honest
(tests/test_orders.py: mean 0.499, the CI covers 0.5 in 94.8% of simulated comparisons).

The coin is a hash of the comparison seed, the prompt's content hash and the sample number:
a rerun with the same seed judges the same orders (and so hits the judgment cache), and
different samples of one prompt are ordered independently. Which order was judged is recorded
per item (``judgment_cand_first`` / ``judgment_base_first``).
"""

from __future__ import annotations

import hashlib


def candidate_first(seed: int, prompt_hash: str, sample: int) -> bool:
    """The seeded fair coin: True when the candidate is shown first."""
    digest = hashlib.sha256(f"evalkit-order|{seed}|{prompt_hash}|{sample}".encode()).digest()
    return digest[0] < 128
