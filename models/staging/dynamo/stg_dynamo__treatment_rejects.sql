with

treatment_versions as (
    select * from {{ ref('stg_dynamo__treatment_versions') }}
),

rejected_versions as (
    select
        export_id,
        data_file,
        line_number,
        load_id,
        treatment_id,
        reject_rule,
        loaded_at
    from treatment_versions
    where
        is_latest_version
        and reject_rule is not null
)

select * from rejected_versions
