with

fct_bed_census_daily as (
    select * from {{ ref('fct_bed_census_daily') }}
),

fct_encounters as (
    select * from {{ ref('fct_encounters') }}
),

departments as (
    select * from {{ ref('dim_department') }}
),

census_per_month as (
    select
        department_id,
        cast(date_trunc('month', cast(census_date as timestamp)) as date) as month_start,
        cast(count(*) as integer) as census_days,
        cast(
            count(*) filter (
                where occupancy_rate >= {{ var('bottleneck_occupancy_rate') }}
            ) as integer
        ) as bottleneck_days
    from fct_bed_census_daily
    group by
        department_id,
        cast(date_trunc('month', cast(census_date as timestamp)) as date)
),

admissions_with_month as (
    select
        admission_department_id as department_id,
        wait_minutes,
        cast(
            date_trunc('month', cast({{ to_reporting_date('admitted_at') }} as timestamp)) as date
        ) as month_start
    from fct_encounters
    where is_admitted
),

-- percentile_cont works in double precision; the result is cast back to numeric
waits_per_month as (
    select
        department_id,
        month_start,
        cast(
            percentile_cont(0.9) within group (order by wait_minutes) as numeric
        ) as p90_wait_minutes,
        count(*) as admissions,
        avg(wait_minutes) as avg_wait_minutes
    from admissions_with_month
    group by
        department_id,
        month_start
),

current_departments as (
    select
        department_id,
        hospital_id,
        department_name
    from departments
    where is_current
),

bottlenecks as (
    select
        current_departments.hospital_id,
        census_per_month.department_id,
        current_departments.department_name,
        census_per_month.month_start,
        census_per_month.census_days,
        census_per_month.bottleneck_days,
        waits_per_month.avg_wait_minutes,
        waits_per_month.p90_wait_minutes,
        coalesce(waits_per_month.admissions, 0) as admissions
    from census_per_month
    left join current_departments
        on census_per_month.department_id = current_departments.department_id
    left join waits_per_month
        on
            census_per_month.department_id = waits_per_month.department_id
            and census_per_month.month_start = waits_per_month.month_start
)

select * from bottlenecks
