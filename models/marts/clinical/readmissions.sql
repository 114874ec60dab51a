{#- One row per index stay: every accepted inpatient claim with both dates. A patient's next
    stay is the following one in (admit_date, discharge_date, claim_id) order; the index stay
    is readmitted when that stay starts 0 to var readmission_window_days (30) days after the
    discharge, both ends included. -#}
with

claims as (
    select * from {{ ref('fct_claims') }}
),

inpatient_stays as (
    select
        claim_id,
        patient_id,
        provider_id,
        hospital_id,
        admit_date,
        discharge_date
    from claims
    where
        claim_type = 'inpatient'
        and admit_date is not null
        and discharge_date is not null
),

stays_joined_to_next_stay as (
    select
        claim_id,
        patient_id,
        provider_id,
        hospital_id,
        admit_date,
        discharge_date,
        lead(claim_id) over patient_stays as next_claim_id,
        lead(admit_date) over patient_stays as next_admit_date
    from inpatient_stays
    window patient_stays as (partition by patient_id order by admit_date asc, discharge_date asc, claim_id asc)
),

stays_measured as (
    select
        claim_id,
        patient_id,
        provider_id,
        hospital_id,
        admit_date,
        discharge_date,
        cast(date_trunc('month', discharge_date) as date) as discharge_month,
        next_claim_id,
        next_admit_date,
        next_admit_date - discharge_date as days_to_readmission,
        coalesce(
            next_admit_date - discharge_date between 0 and {{ var('readmission_window_days') }},
            false
        ) as is_readmitted
    from stays_joined_to_next_stay
)

select * from stays_measured
