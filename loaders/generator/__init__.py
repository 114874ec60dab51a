"""Synthetic source data: the shared population and one writer per source system."""
