with

treatments as (
    select * from {{ ref('stg_dynamo__treatments') }}
),

patient_observations as (
    select
        patient_id,
        treated_at,
        treatment_id,
        patient_first_name as first_name,
        patient_last_name as last_name,
        patient_gender as gender,
        patient_date_of_birth as date_of_birth,
        patient_city as city,
        patient_state as state,
        patient_zip as zip,
        row_number() over (
            partition by patient_id, treated_at
            order by treatment_id desc
        ) as rank_at_instant
    from treatments
),

-- Several treatments of one patient at the same instant: the last one by treatment_id
-- states the patient at that instant, so that no version is zero-length.
observations_per_instant as (
    select
        patient_id,
        treated_at,
        first_name,
        last_name,
        gender,
        date_of_birth,
        city,
        state,
        zip,
        jsonb_build_array(first_name, last_name, gender, date_of_birth, city, state, zip) as attribute_tuple
    from patient_observations
    where rank_at_instant = 1
),

observations_compared as (
    select
        patient_id,
        treated_at,
        first_name,
        last_name,
        gender,
        date_of_birth,
        city,
        state,
        zip,
        (
            attribute_tuple is distinct from lag(attribute_tuple) over (
                partition by patient_id
                order by treated_at
            )
        ) as is_version_start
    from observations_per_instant
),

-- Gaps and islands: each run of equal attribute tuples is one version, starting at its first
-- observation and ending where the next version starts.
versions as (
    select
        patient_id,
        first_name,
        last_name,
        gender,
        date_of_birth,
        city,
        state,
        zip,
        case
            when row_number() over patient_versions = 1 then cast('-infinity' as timestamptz)
            else treated_at
        end as valid_from,
        coalesce(lead(treated_at) over patient_versions, cast('infinity' as timestamptz)) as valid_to
    from observations_compared
    where is_version_start
    window patient_versions as (partition by patient_id order by treated_at)
)

select * from versions
