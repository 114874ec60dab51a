with

providers_snapshot as (
    select * from {{ ref('providers') }}
),

specialties_of_current_versions as (
    select distinct specialty
    from providers_snapshot
    where dbt_valid_to is null
),

specialties as (
    select
        {{ dbt_utils.generate_surrogate_key(['specialty']) }} as specialty_key,
        specialty
    from specialties_of_current_versions
)

select * from specialties
