"""``evalkit watch``: every new checkpoint evaluated automatically (docs/watch.md).

``config`` parses ``[watch]``; ``sources`` finds checkpoints (a server's ``/v1/models``, a
folder); ``chain`` places them in rounds; ``plan`` runs the comparisons, benchmarks and gate;
``state`` keeps progress in the store; ``notify`` reports; ``service`` is the loop.
"""

from .config import PlanConfig, SourceConfig, WatchConfig, parse_watch
from .service import Outcome, PassReport, Watcher

__all__ = ["Outcome", "PassReport", "PlanConfig", "SourceConfig", "WatchConfig", "Watcher",
           "parse_watch"]
