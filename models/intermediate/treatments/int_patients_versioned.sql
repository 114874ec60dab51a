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
        patient_zip as zip
    from treatments
),

{{ business_time_versions(
    'patient_observations',
    'patient_id',
    ['first_name', 'last_name', 'gender', 'date_of_birth', 'city', 'state', 'zip'],
) }}

select * from versions
