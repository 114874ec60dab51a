with

treatments as (
    select * from {{ ref('stg_dynamo__treatments') }}
),

profiles_present as (
    select distinct
        treatment_type,
        outcome_status
    from treatments
),

treatment_profiles as (
    select
        {{ dbt_utils.generate_surrogate_key(['treatment_type', 'outcome_status']) }} as treatment_profile_key,
        treatment_type,
        outcome_status,
        {{ is_completed_outcome('outcome_status') }} as is_completed,
        outcome_status = 'success' as is_success
    from profiles_present
)

select * from treatment_profiles
