"""The diagnosis rules, one module per finding kind. :data:`kassa.diagnose.rule.RULES` imports every
module of this package the first time it is read, and each registers its rule (``@RULES.register``), so
a new rule needs no list to be edited."""
