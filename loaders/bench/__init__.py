"""``python -m loaders bench`` (``make bench``): the performance benchmark (README, "Benchmark").

It generates every source at 1,000,000 treatments (and at a tenth of that), then measures, on
scratch databases of the configured server, landing against PostgreSQL's own ``\\copy``, the
path from export files to typed silver rows against a row-by-row INSERT loader and pandas, the
loaders' peak memory for a small and a 10x larger input, and full and incremental ``dbt build``
times. Figures go to ``results/`` (git-ignored) as JSON and markdown.
"""
