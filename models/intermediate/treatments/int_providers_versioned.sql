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
        provider_state as state,
        row_number() over (
            partition by provider_id, treated_at
            order by treatment_id desc
        ) as rank_at_instant
    from treatments
),

-- Several treatments of one provider at the same instant: the last one by treatment_id
-- states the provider at that instant, so that no version is zero-length.
observations_per_instant as (
    select
        provider_id,
        treated_at,
        provider_name,
        specialty,
        hospital_id,
        city,
        state,
        jsonb_build_array(provider_name, specialty, hospital_id, city, state) as attribute_tuple
    from provider_observations
    where rank_at_instant = 1
),

observations_compared as (
    select
        provider_id,
        treated_at,
        provider_name,
        specialty,
        hospital_id,
        city,
        state,
        (
            attribute_tuple is distinct from lag(attribute_tuple) over (
                partition by provider_id
                order by treated_at
            )
        ) as is_version_start
    from observations_per_instant
),

-- Gaps and islands: each run of equal attribute tuples is one version, starting at its first
-- observation and ending where the next version starts.
versions as (
    select
        provider_id,
        provider_name,
        specialty,
        hospital_id,
        city,
        state,
        case
            when row_number() over provider_versions = 1 then cast('-infinity' as timestamptz)
            else treated_at
        end as valid_from,
        coalesce(lead(treated_at) over provider_versions, cast('infinity' as timestamptz)) as valid_to
    from observations_compared
    where is_version_start
    window provider_versions as (partition by provider_id order by treated_at)
)

select * from versions
