with

treatments as (
    select * from {{ ref('stg_dynamo__treatments') }}
),

adt_events as (
    select * from {{ ref('int_adt_events') }}
),

-- each treatment (latest valid version) embeds the patient as of the treatment
treatment_observations as (
    select
        patient_id,
        treated_at as observed_at,
        'treatments' as source_system,
        1 as source_rank,
        treatment_id as observation_id,
        patient_first_name as first_name,
        patient_last_name as last_name,
        nullif(patient_gender, 'unknown') as gender,
        patient_date_of_birth as date_of_birth,
        patient_city as city,
        patient_state as state,
        patient_zip as zip
    from treatments
),

-- each accepted ADT event carries the patient's gender and date of birth only
adt_observations as (
    select
        patient_id,
        event_at as observed_at,
        'adt' as source_system,
        2 as source_rank,
        event_id as observation_id,
        cast(null as text) as first_name,
        cast(null as text) as last_name,
        nullif(gender, 'unknown') as gender,
        date_of_birth,
        cast(null as text) as city,
        cast(null as text) as state,
        cast(null as text) as zip
    from adt_events
),

observations as (
    select * from treatment_observations
    union all
    select * from adt_observations
)

select * from observations
