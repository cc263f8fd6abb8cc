"""Judging question/answer pairs: the rubric, the verdicts and the score distribution. No Dagster import.

    run = judge_questions(questions, chunks, client, PromptLibrary(corpus_dir), corpus,
                          pass_threshold=8, review_threshold=6)
    dist = score_distribution(run.scored["overall"].to_list(), run.scored["verdict"].to_list())
"""

from ragassets.judging.distribution import (
    ScoreDistribution,
    distribution_chart,
    distribution_table,
    score_bins,
    score_distribution,
)
from ragassets.judging.rubric import (
    CRITERIA,
    FAIL,
    MAX_OVERALL,
    NEEDS_REVIEW,
    PASS,
    SCORED_SCHEMA,
    UNSCORED,
    VERDICTS,
    JudgeRun,
    collect_verdicts,
    iter_judge_requests,
    judge_questions,
    judge_requests,
    verdict_of,
)

__all__ = [
    "CRITERIA",
    "FAIL",
    "MAX_OVERALL",
    "NEEDS_REVIEW",
    "PASS",
    "SCORED_SCHEMA",
    "UNSCORED",
    "VERDICTS",
    "JudgeRun",
    "ScoreDistribution",
    "collect_verdicts",
    "distribution_chart",
    "distribution_table",
    "iter_judge_requests",
    "judge_questions",
    "judge_requests",
    "score_bins",
    "score_distribution",
    "verdict_of",
]
