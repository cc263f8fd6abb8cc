"""Fixtures of the PII tests: the offline engine, built once per test session (about a second)."""

import pytest

from ragassets.settings import PiiSettings


@pytest.fixture(scope="session")
def policy() -> PiiSettings:
    return PiiSettings()


@pytest.fixture(scope="session")
def analyzer(policy: PiiSettings):
    from ragassets.pii.engine import analyzer_for

    return analyzer_for(policy)


@pytest.fixture(scope="session")
def person():
    from ragassets.pii.person import NameListPersonRecognizer

    return NameListPersonRecognizer()
