with

landed_rows as (
    select * from {{ ref('int_landed_rows_unioned') }}
),

dq_loads as (
    select * from {{ ref('dq_loads') }}
),

rejects_counted_per_rule as (
    select
        source,
        load_id,
        reject_rule,
        count(*) as rows_rejected
    from landed_rows
    where reject_rule is not null
    group by
        source,
        load_id,
        reject_rule
),

-- dated by the load's first landed row (dq_loads), so every rule of a load shares one instant
rejects_dated_by_load as (
    select
        rejects_counted_per_rule.source,
        rejects_counted_per_rule.load_id,
        dq_loads.first_loaded_at,
        rejects_counted_per_rule.reject_rule,
        rejects_counted_per_rule.rows_rejected
    from rejects_counted_per_rule
    inner join dq_loads
        on
            rejects_counted_per_rule.source = dq_loads.source
            and rejects_counted_per_rule.load_id = dq_loads.load_id
)

select * from rejects_dated_by_load
