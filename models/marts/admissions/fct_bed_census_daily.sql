{#-
    The census of a reporting date D is taken at the midnight ending D, i.e. the instant
    (D + 1) 00:00 in the reporting time zone, and counts the encounters in a bed of the
    department then (int_bed_stays_derived: stay_started_at <= instant < stay_ended_at).
    Instead of testing every stay against every day, each stay yields the census dates it
    covers: with c(x) = the first date whose census instant is at or after x (the local date of
    x, one day earlier when x is exactly local midnight), a stay covers c(stay_started_at) to
    c(stay_ended_at) - 1, clipped to the reported dates (open stays run to the last one).
    Indexes for BI: the primary key (census_date, department_id, from the contract) serves
    network-wide views of one date range; (department_id, census_date) serves a department's
    occupancy over time (bottleneck drill-down).
-#}
{{
    config(
        indexes=[
            {'columns': ['department_id', 'census_date']},
        ],
    )
}}

with

bed_stays as (
    select * from {{ ref('int_bed_stays_derived') }}
),

adt_events as (
    select * from {{ ref('int_adt_events') }}
),

departments as (
    select * from {{ ref('dim_department') }}
),

-- every reporting date from the earliest to the latest reporting date of an accepted event
census_date_bounds as (
    select
        {{ to_reporting_date('min(event_at)') }} as first_census_date,
        {{ to_reporting_date('max(event_at)') }} as last_census_date
    from adt_events
),

census_dates as (
    {{ date_series('census_date_bounds', 'first_census_date', 'last_census_date', '1 day', 'census_date') }}
),

bed_stays_in_reporting_time as (
    select
        department_id,
        stay_started_at at time zone '{{ reporting_timezone() }}' as local_started_at,
        stay_ended_at at time zone '{{ reporting_timezone() }}' as local_ended_at
    from bed_stays
),

bed_stays_census_ranges as (
    select
        department_id,
        cast(local_started_at as date)
        - cast(local_started_at = date_trunc('day', local_started_at) as integer) as first_census_date,
        cast(local_ended_at as date)
        - cast(local_ended_at = date_trunc('day', local_ended_at) as integer)
        - 1 as last_census_date
    from bed_stays_in_reporting_time
),

census_counted as (
    select
        bed_stays_census_ranges.department_id,
        cast(covered_days.day_start as date) as census_date,
        count(*) as census
    from bed_stays_census_ranges
    cross join census_date_bounds
    cross join
        lateral generate_series(
            cast(
                greatest(bed_stays_census_ranges.first_census_date, census_date_bounds.first_census_date)
                as timestamp
            ),
            cast(
                least(
                    coalesce(bed_stays_census_ranges.last_census_date, census_date_bounds.last_census_date),
                    census_date_bounds.last_census_date
                )
                as timestamp
            ),
            interval '1 day'
        ) as covered_days (day_start)
    group by
        bed_stays_census_ranges.department_id,
        cast(covered_days.day_start as date)
),

department_ids as (
    select distinct department_id
    from departments
),

census_slots as (
    select
        census_dates.census_date,
        department_ids.department_id,
        {{ reporting_day_start('census_dates.census_date + 1') }} as census_at
    from census_dates
    cross join department_ids
),

census_slots_joined_to_versions as (
    select
        census_slots.census_date,
        {{ to_date_key('census_slots.census_date') }} as date_key,
        departments.hospital_id,
        census_slots.department_id,
        departments.department_key,
        cast(coalesce(census_counted.census, 0) as integer) as census,
        departments.bed_capacity,
        cast(coalesce(census_counted.census, 0) as numeric)
        / nullif(departments.bed_capacity, 0) as occupancy_rate
    from census_slots
    left join departments
        on
            census_slots.department_id = departments.department_id
            and census_slots.census_at >= departments.valid_from
            and census_slots.census_at < departments.valid_to
    left join census_counted
        on
            census_slots.department_id = census_counted.department_id
            and census_slots.census_date = census_counted.census_date
)

select * from census_slots_joined_to_versions
