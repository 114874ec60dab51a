with

fct_encounters as (
    select * from {{ ref('fct_encounters') }}
),

age_bands as (
    select * from {{ ref('age_bands') }}
),

-- 'unknown' (no known age) is not a band of the seed: it is reported after the last band
unknown_band_order as (
    select max(sort_order) + 1 as sort_order
    from age_bands
),

admission_kpis_per_age_band as (
    select
        age_band,
        count(*) as admissions,
        avg(length_of_stay_hours) as avg_length_of_stay_hours,
        avg(wait_minutes) as avg_wait_minutes
    from fct_encounters
    where is_admitted
    group by age_band
),

admission_kpis_ordered as (
    select
        admission_kpis_per_age_band.age_band,
        admission_kpis_per_age_band.admissions,
        admission_kpis_per_age_band.avg_length_of_stay_hours,
        admission_kpis_per_age_band.avg_wait_minutes,
        coalesce(age_bands.sort_order, unknown_band_order.sort_order) as age_band_order
    from admission_kpis_per_age_band
    cross join unknown_band_order
    left join age_bands
        on admission_kpis_per_age_band.age_band = age_bands.age_band
)

select * from admission_kpis_ordered
