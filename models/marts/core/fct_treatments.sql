{#-
    Incremental (delete+insert on treatment_id). A full build takes every treatment of
    stg_dynamo__treatments. An incremental run (re)builds only:
      1. treatments with a bronze row loaded after the newest loaded_at already in the fact
         (a new treatment, a new version, or a repeated one), and
      2. treatments already in the fact whose patient or provider version valid at treated_at
         is no longer the one stored (patient_key, provider_key, location_key or specialty_key
         differ), e.g. because late data split or closed a version.
    The post-hook deletes facts whose treatment is no longer in stg_dynamo__treatments (its
    latest version is now rejected), which delete+insert alone would keep.
    Indexes: treatment_id (unique) serves the merge's delete and single look-ups;
    (hospital_id, treatment_date) the dashboards' hospital and date-range filters (hospital_id
    is also the row-level security predicate of every hospital role); provider_id the provider
    rankings' drill-down to a provider's treatments.
-#}
-- depends_on: {{ ref('stg_dynamo__treatment_versions') }}
{{
    config(
        materialized='incremental',
        unique_key='treatment_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['treatment_id'], 'unique': true},
            {'columns': ['hospital_id', 'treatment_date']},
            {'columns': ['provider_id']},
        ],
        post_hook="
            delete from {{ this }} as facts
            where not exists (
                select from {{ ref('stg_dynamo__treatments') }} as treatments
                where treatments.treatment_id = facts.treatment_id
            )
        ",
    )
}}

with

treatments as (
    select * from {{ ref('stg_dynamo__treatments') }}
),

patients as (
    select * from {{ ref('dim_patient') }}
),

providers as (
    select * from {{ ref('dim_provider') }}
),

{% if is_incremental() %}

    treatment_versions as (
        select * from {{ ref('stg_dynamo__treatment_versions') }}
    ),

    existing_facts as (
        select * from {{ this }}
    ),

{% endif %}

treatments_joined_to_versions as (
    select
        treatments.treatment_id,
        treatments.treated_at,
        {{ to_reporting_date('treatments.treated_at') }} as treatment_date,
        {{ to_reporting_time_key('treatments.treated_at') }} as time_key,
        patients.patient_key,
        providers.provider_key,
        providers.location_key,
        providers.specialty_key,
        {{ dbt_utils.generate_surrogate_key(['treatments.disease_code']) }} as disease_key,
        {{ dbt_utils.generate_surrogate_key(['treatments.treatment_type', 'treatments.outcome_status']) }}
            as treatment_profile_key,
        treatments.patient_id,
        treatments.provider_id,
        providers.hospital_id,
        treatments.outcome_status,
        treatments.treatment_type,
        treatments.cost,
        treatments.is_cost_invalid,
        treatments.is_emergency,
        treatments.medication_count,
        treatments.modified_at,
        treatments.loaded_at
    from treatments
    left join patients
        on
            treatments.patient_id = patients.patient_id
            and treatments.treated_at >= patients.valid_from
            and treatments.treated_at < patients.valid_to
    left join providers
        on
            treatments.provider_id = providers.provider_id
            and treatments.treated_at >= providers.valid_from
            and treatments.treated_at < providers.valid_to
),

{% if is_incremental() %}

    load_watermark as (
        select coalesce(max(loaded_at), cast('-infinity' as timestamptz)) as last_loaded_at
        from existing_facts
    ),

    treatments_loaded_since_last_run as (
        select treatment_versions.treatment_id
        from treatment_versions
        cross join load_watermark
        where treatment_versions.loaded_at > load_watermark.last_loaded_at
    ),

    treatments_with_changed_versions as (
        select existing_facts.treatment_id
        from existing_facts
        inner join treatments_joined_to_versions
            on existing_facts.treatment_id = treatments_joined_to_versions.treatment_id
        where
            (
                existing_facts.patient_key,
                existing_facts.provider_key,
                existing_facts.location_key,
                existing_facts.specialty_key
            ) is distinct from (
                treatments_joined_to_versions.patient_key,
                treatments_joined_to_versions.provider_key,
                treatments_joined_to_versions.location_key,
                treatments_joined_to_versions.specialty_key
            )
    ),

    treatments_to_process as (
        select treatment_id from treatments_loaded_since_last_run
        union
        select treatment_id from treatments_with_changed_versions
    ),

{% endif %}

facts as (
    select
        treatment_id,
        treated_at,
        treatment_date,
        {{ to_date_key('treatment_date') }} as date_key,
        time_key,
        patient_key,
        provider_key,
        location_key,
        specialty_key,
        disease_key,
        treatment_profile_key,
        patient_id,
        provider_id,
        hospital_id,
        outcome_status,
        treatment_type,
        cost,
        is_cost_invalid,
        is_emergency,
        medication_count,
        modified_at,
        loaded_at
    from treatments_joined_to_versions
    {% if is_incremental() %}
        where treatment_id in (select treatments_to_process.treatment_id from treatments_to_process)
    {% endif %}
)

select * from facts
