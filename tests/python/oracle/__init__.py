"""Independent test oracle: the analytic tables recomputed in Python from the raw exports.

It shares no code with the warehouse (no SQL, no seeds, no loader): it implements the cleaning
rules and metric definitions of the domain contract directly, so that the end-to-end test
compares two independent implementations.
"""
