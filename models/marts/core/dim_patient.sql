{#- BI indexes: a patient's versions by natural key and as-of date (the facts' point-in-time joins
    and BI lookups of one patient). -#}
{{
    config(
        indexes=[
            {'columns': ['patient_id', 'valid_from']},
        ],
    )
}}

with

patients_snapshot as (
    select * from {{ ref('patients') }}
),

current_patient_versions as (
    select
        {{ version_key('patient_id', 'valid_from') }} as patient_key,
        patient_id,
        first_name,
        last_name,
        gender,
        date_of_birth,
        city,
        state,
        zip,
        {{ dbt_utils.generate_surrogate_key(['city', 'state']) }} as location_key,
        valid_from,
        valid_to,
        valid_to = cast('infinity' as timestamptz) as is_current
    from patients_snapshot
    where dbt_valid_to is null
)

select * from current_patient_versions
