"""The tiny model fixture of the training tests."""

from ragassets_tests.training.conftest import tiny_model  # noqa: F401 - a fixture
