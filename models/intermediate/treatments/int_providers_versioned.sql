with

treatments as (
    select * from {{ ref('stg_dynamo__treatments') }}
),

provider_observations as (
    select
        provider_id,
        treated_at,
        treatment_id,
        provider_name,
        provider_specialty as specialty,
        provider_hospital_id as hospital_id,
        provider_city as city,
        provider_state as state
    from treatments
),

{{ business_time_versions(
    'provider_observations',
    'provider_id',
    ['provider_name', 'specialty', 'hospital_id', 'city', 'state'],
) }}

select * from versions
