// The state of a step as jobctl shows it, computed in SQL from its jobqueue row (jq aliases
// jobqueue): failed, completed, paused, running, waiting (for an open prerequisite), queued.
#pragma once

namespace jobctl {

inline constexpr const char* kStepStateSql = R"(
CASE WHEN jq.jq_endtime IS NOT NULL AND (jq.jq_end_bits & 2) <> 0 THEN 'failed'
     WHEN jq.jq_endtime IS NOT NULL THEN 'completed'
     WHEN jq.jq_endtext = 'Paused' THEN 'paused'
     WHEN jq.jq_starttime IS NOT NULL THEN 'running'
     WHEN EXISTS (SELECT 1 FROM jobdepends d JOIN jobqueue p ON p.jq_pk = d.jdep_jq_depends_fk
                   WHERE d.jdep_jq_fk = jq.jq_pk AND p.jq_endtime IS NULL) THEN 'waiting'
     ELSE 'queued' END)";

}  // namespace jobctl
