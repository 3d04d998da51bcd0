"""What the papers published, beside what this harness measures: published numbers, the leaderboard."""
