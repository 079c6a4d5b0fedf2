-- Migration 10: the ready-step poll reaches past a group that can take no more steps without
-- reading its backlog. While slots are free, a group of steps (a type and a jq_host) may still
-- be unable to start more (a type at its max, a host that is full or down) and keep as many
-- waiting in the scheduler's memory as it may have. In jobqueue_ready_idx (migration 9) its
-- queued steps lie among all others in the queue's order, so a poll either read past every one
-- of them (41-260 ms a poll with 100,000 queued of a type at its max, on every NOTIFY) or, cut
-- by its LIMIT, found only them. This index holds the steps not started per group, in the
-- queue's order within it (rank = -priority, then jq_pk: priority is an integer, so its
-- negation is taken in bigint), so that the poll skips from one group to the next and reads
-- each only as far as it has room (queue_sql.hpp, kReadyStepsByGroup).
CREATE INDEX jobqueue_group_ready_idx
    ON jobqueue (jq_type, (jq_host IS NULL), coalesce(jq_host, ''), (-jq_priority::bigint), jq_pk)
 WHERE coalesce(jq_starttime, jq_endtime) IS NULL;

INSERT INTO jobline_schema (version, name) VALUES (10, '010_group_ready');
