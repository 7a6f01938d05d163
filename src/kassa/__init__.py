"""kassa: follow every ruble from ad spend to money in the bank.

Layers (each imports only those before it): sources -> store -> link -> metrics ->
attribution -> kpi -> diagnose -> report -> web; ``cli`` drives them all.
"""

__version__ = "0.1.0"
