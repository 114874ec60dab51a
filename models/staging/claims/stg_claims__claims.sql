with

claim_versions as (
    select * from {{ ref('stg_claims__claim_versions') }}
),

-- a claim is in the facts when its latest version is accepted, whatever the earlier versions were
latest_accepted_versions as (
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
        source_file,
        line_number,
        load_id
    from claim_versions
    where
        is_latest_version
        and reject_rule is null
)

select * from latest_accepted_versions
