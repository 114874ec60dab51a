-- How many treatments each cleaning rule rejected, per export: a first look at data quality.
with

rejects as (
    select * from {{ ref('stg_dynamo__treatment_rejects') }}
),

rejects_counted as (
    select
        export_id,
        reject_rule,
        count(*) as rejected_treatments
    from rejects
    group by export_id, reject_rule
)

select * from rejects_counted
order by export_id asc, rejected_treatments desc
