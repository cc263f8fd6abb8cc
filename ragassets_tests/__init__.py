"""Tests of ragassets; the layout mirrors the package."""
