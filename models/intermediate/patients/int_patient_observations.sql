with

ehr_documents as (
    select * from {{ ref('stg_ehr__documents') }}
),

treatments as (
    select * from {{ ref('stg_dynamo__treatments') }}
),

adt_events as (
    select * from {{ ref('int_adt_events') }}
),

-- each accepted EHR document states the patient as of its updated_at (the system of record)
ehr_observations as (
    select
        patient_id,
        updated_at as observed_at,
        'ehr' as source_system,
        1 as source_rank,
        source_file || ':' || line_number as observation_id,
        first_name,
        last_name,
        nullif(gender, 'unknown') as gender,
        date_of_birth,
        city,
        state,
        zip,
        ssn,
        phone,
        email,
        address_line
    from ehr_documents
    where reject_rule is null
),

-- each treatment (latest valid version) embeds the patient as of the treatment
treatment_observations as (
    select
        patient_id,
        treated_at as observed_at,
        'treatments' as source_system,
        2 as source_rank,
        treatment_id as observation_id,
        patient_first_name as first_name,
        patient_last_name as last_name,
        nullif(patient_gender, 'unknown') as gender,
        patient_date_of_birth as date_of_birth,
        patient_city as city,
        patient_state as state,
        patient_zip as zip,
        cast(null as text) as ssn,
        cast(null as text) as phone,
        cast(null as text) as email,
        cast(null as text) as address_line
    from treatments
),

-- each accepted ADT event carries the patient's gender and date of birth only
adt_observations as (
    select
        patient_id,
        event_at as observed_at,
        'adt' as source_system,
        3 as source_rank,
        event_id as observation_id,
        cast(null as text) as first_name,
        cast(null as text) as last_name,
        nullif(gender, 'unknown') as gender,
        date_of_birth,
        cast(null as text) as city,
        cast(null as text) as state,
        cast(null as text) as zip,
        cast(null as text) as ssn,
        cast(null as text) as phone,
        cast(null as text) as email,
        cast(null as text) as address_line
    from adt_events
),

observations as (
    select * from ehr_observations
    union all
    select * from treatment_observations
    union all
    select * from adt_observations
)

select * from observations
