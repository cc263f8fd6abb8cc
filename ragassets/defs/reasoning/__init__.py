"""The reasoning group (issue 13), partitioned by problem set: problems -> sampled solutions ->
verified solutions (rejection sampling) -> SFT dataset."""
