with

landed_rows as (
    select * from {{ ref('int_landed_rows_unioned') }}
),

rows_counted_per_load as (
    select
        source,
        load_id,
        cast(count(distinct source_file) as integer) as files,
        min(loaded_at) as first_loaded_at,
        max(loaded_at) as last_loaded_at,
        count(*) as rows_landed,
        count(*) filter (where reject_rule is null) as rows_accepted,
        count(*) filter (where reject_rule is not null) as rows_rejected
    from landed_rows
    group by
        source,
        load_id
)

select * from rows_counted_per_load
