-- Pruning deletes the oldest rows first (`at` below the cutoff, in
-- bounded batches); without this index every batch would scan the table.
CREATE INDEX login_attempts_at ON login_attempts (at);
