"""CLI commands, one module per concern. Each module defines ``register(app)``; ``kassa.cli`` calls
every module listed in :data:`MODULES`, so a feature adds its commands without touching the others."""

MODULES = ("data", "metrics", "money", "report", "attribute", "kpi", "diagnose", "demo", "serve")
