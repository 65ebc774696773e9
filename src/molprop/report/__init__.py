"""The pull-request report: metrics with intervals, DVC diffs against the base branch,
plots rendered offline and interpretation highlights, as markdown + PNG (``make report``)."""
