-- Per source and load, the rejects per rule add up to the load's rows_rejected, and a load with
-- rejected rows has at least one rule. Returns the loads that break this.
with

dq_loads as (
    select * from {{ ref('dq_loads') }}
),

dq_rejects_by_rule as (
    select * from {{ ref('dq_rejects_by_rule') }}
),

rejects_summed_per_load as (
    select
        source,
        load_id,
        sum(rows_rejected) as rows_rejected
    from dq_rejects_by_rule
    group by
        source,
        load_id
),

loads_compared as (
    select
        dq_loads.source,
        dq_loads.load_id,
        dq_loads.rows_rejected,
        coalesce(rejects_summed_per_load.rows_rejected, 0) as rows_rejected_by_rules
    from dq_loads
    full outer join rejects_summed_per_load
        on
            dq_loads.source = rejects_summed_per_load.source
            and dq_loads.load_id = rejects_summed_per_load.load_id
),

mismatched_loads as (
    select
        source,
        load_id,
        rows_rejected,
        rows_rejected_by_rules
    from loads_compared
    where rows_rejected is distinct from rows_rejected_by_rules
)

select * from mismatched_loads
