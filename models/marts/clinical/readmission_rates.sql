with

readmissions as (
    select * from {{ ref('readmissions') }}
),

stays_counted_per_hospital_month as (
    select
        hospital_id,
        discharge_month as month_start,
        count(*) as index_stays,
        count(*) filter (where is_readmitted) as readmissions
    from readmissions
    group by hospital_id, discharge_month
),

readmission_rates_computed as (
    select
        hospital_id,
        month_start,
        index_stays,
        readmissions,
        cast(readmissions as numeric) / index_stays as readmission_rate
    from stays_counted_per_hospital_month
)

select * from readmission_rates_computed
