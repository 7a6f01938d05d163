"""Clients of web services kassa fetches data from (one module per service).

A connector knows one service's requests and answers and nothing of the warehouse: it returns plain
values, and the store layer decides what to keep. Shared HTTP and XML handling is in :mod:`.http`.
"""
