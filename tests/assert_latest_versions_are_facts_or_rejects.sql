-- Every treatment's latest version is in exactly one place: the fact table when it passes the
-- cleaning rules, the rejects model when it does not. Returns the treatments that break this.
with

treatment_versions as (
    select * from {{ ref('stg_dynamo__treatment_versions') }}
),

fct_treatments as (
    select * from {{ ref('fct_treatments') }}
),

treatment_rejects as (
    select * from {{ ref('stg_dynamo__treatment_rejects') }}
),

latest_versions as (
    select
        treatment_id,
        reject_rule
    from treatment_versions
    where is_latest_version and treatment_id is not null
),

latest_versions_placed as (
    select
        latest_versions.treatment_id,
        latest_versions.reject_rule,
        fct_treatments.treatment_id is not null as is_in_facts,
        treatment_rejects.treatment_id is not null as is_in_rejects
    from latest_versions
    left join fct_treatments
        on latest_versions.treatment_id = fct_treatments.treatment_id
    left join treatment_rejects
        on latest_versions.treatment_id = treatment_rejects.treatment_id
),

misplaced_treatments as (
    select
        treatment_id,
        reject_rule,
        is_in_facts,
        is_in_rejects
    from latest_versions_placed
    where
        is_in_facts = is_in_rejects
        or is_in_facts != (reject_rule is null)
)

select * from misplaced_treatments
