"""Tests of the Dagster resources."""
