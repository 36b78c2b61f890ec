-- indexed_commits.branches lists every branch a commit is on (reachable
-- from), at most 20, the first by name, kept right as branches are created,
-- moved, force-pushed and deleted; it listed only the branch the walk first
-- reached the commit from. Every repository is read again in full, at
-- once, as a re-index does: its tips are forgotten, so every commit is
-- walked again and saved with its branches (and commits no branch reaches
-- any more are on none).

UPDATE index_repositories SET tips = '{}', tips_digest = '', next_poll_at = 0;
