with

providers_snapshot as (
    select * from {{ ref('providers') }}
),

patients_snapshot as (
    select * from {{ ref('patients') }}
),

locations_of_current_versions as (
    select
        city,
        state
    from providers_snapshot
    where dbt_valid_to is null
    union
    select
        city,
        state
    from patients_snapshot
    where dbt_valid_to is null
),

locations as (
    select
        {{ dbt_utils.generate_surrogate_key(['city', 'state']) }} as location_key,
        city,
        state
    from locations_of_current_versions
)

select * from locations
