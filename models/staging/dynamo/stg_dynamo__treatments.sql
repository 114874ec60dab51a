with

treatment_versions as (
    select * from {{ ref('stg_dynamo__treatment_versions') }}
),

latest_valid_versions as (
    select
        treatment_id,
        patient_id,
        patient_first_name,
        patient_last_name,
        patient_gender,
        patient_date_of_birth,
        patient_city,
        patient_state,
        patient_zip,
        provider_id,
        provider_name,
        provider_specialty,
        provider_hospital_id,
        provider_city,
        provider_state,
        disease_code,
        disease_name,
        treatment_type,
        outcome_status,
        cost,
        is_cost_invalid,
        treated_at,
        modified_at,
        medication_count,
        medications,
        is_emergency,
        notes,
        export_id,
        data_file,
        line_number,
        load_id,
        loaded_at
    from treatment_versions
    where
        is_latest_version
        and reject_rule is null
)

select * from latest_valid_versions
