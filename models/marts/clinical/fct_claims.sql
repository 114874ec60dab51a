{#- BI indexes: claims by hospital and service date (hospital_id is also the row-level security
    predicate of every hospital role), and one patient's claims. -#}
{{
    config(
        indexes=[
            {'columns': ['hospital_id', 'service_date']},
            {'columns': ['patient_id']},
        ],
    )
}}

with

claims as (
    select * from {{ ref('stg_claims__claims') }}
),

providers as (
    select * from {{ ref('dim_provider') }}
),

claims_dated as (
    select
        claim_id,
        claim_version,
        patient_id,
        provider_id,
        claim_type,
        admit_date,
        discharge_date,
        service_date,
        primary_dx,
        procedure_code,
        billed_amount,
        allowed_amount,
        paid_amount,
        status,
        -- the day the provider's hospital is taken on
        coalesce(discharge_date, service_date) as hospital_date
    from claims
),

claims_joined_to_providers as (
    select
        claims_dated.claim_id,
        claims_dated.claim_version,
        claims_dated.patient_id,
        claims_dated.provider_id,
        providers.hospital_id,
        claims_dated.claim_type,
        claims_dated.admit_date,
        claims_dated.discharge_date,
        claims_dated.service_date,
        claims_dated.primary_dx,
        claims_dated.procedure_code,
        claims_dated.billed_amount,
        claims_dated.allowed_amount,
        claims_dated.paid_amount,
        claims_dated.status,
        case
            when claims_dated.claim_type = 'inpatient'
                then claims_dated.discharge_date - claims_dated.admit_date
        end as length_of_stay_days
    from claims_dated
    left join providers
        on
            claims_dated.provider_id = providers.provider_id
            and {{ reporting_day_start('claims_dated.hospital_date') }} >= providers.valid_from
            and {{ reporting_day_start('claims_dated.hospital_date') }} < providers.valid_to
)

select * from claims_joined_to_providers
