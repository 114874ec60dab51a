with

fct_encounters as (
    select * from {{ ref('fct_encounters') }}
),

admission_kpis_per_gender as (
    select
        gender,
        count(*) as admissions,
        avg(length_of_stay_hours) as avg_length_of_stay_hours,
        avg(wait_minutes) as avg_wait_minutes
    from fct_encounters
    where is_admitted
    group by gender
)

select * from admission_kpis_per_gender
