with

treatments as (
    select * from {{ ref('stg_dynamo__treatments') }}
),

adt_events as (
    select * from {{ ref('int_adt_events') }}
),

-- the earliest and latest instant of each source (either may be empty)
source_bounds as (
    select
        min(treated_at) as first_at,
        max(treated_at) as last_at
    from treatments
    union all
    select
        min(event_at) as first_at,
        max(event_at) as last_at
    from adt_events
),

-- Whole calendar years around the treatment and ADT event dates (reporting time zone).
date_bounds as (
    select
        cast(date_trunc('year', min({{ to_reporting_date('first_at') }})) as date) as first_day,
        cast(
            date_trunc('year', max({{ to_reporting_date('last_at') }})) + interval '1 year - 1 day'
            as date
        ) as last_day
    from source_bounds
),

date_spine as (
    {{ date_series('date_bounds', 'first_day', 'last_day', '1 day', 'date_day') }}
),

dates (
    date_key,
    date_day,
    year,
    quarter,
    month,
    month_name,
    month_start,
    day_of_month,
    day_of_week,
    day_name,
    is_weekend
) as (
    select
        {{ to_date_key('date_day') }},
        date_day,
        cast(extract(year from date_day) as integer),
        cast(extract(quarter from date_day) as integer),
        cast(extract(month from date_day) as integer),
        to_char(date_day, 'FMMonth'),
        cast(date_trunc('month', date_day) as date),
        cast(extract(day from date_day) as integer),
        cast(extract(isodow from date_day) as integer),
        to_char(date_day, 'FMDay'),
        extract(isodow from date_day) in (6, 7)
    from date_spine
)

select * from dates
