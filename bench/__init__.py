"""kassa's benchmarks: ``python -m bench`` runs every ``bench_<name>.py`` module (see ``__main__``)."""
