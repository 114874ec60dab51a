{#- BI indexes: a provider's versions by natural key and as-of date (the facts' point-in-time joins
    and BI lookups of one provider). -#}
{{
    config(
        indexes=[
            {'columns': ['provider_id', 'valid_from']},
        ],
    )
}}

with

providers_snapshot as (
    select * from {{ ref('providers') }}
),

current_provider_versions as (
    select
        {{ version_key('provider_id', 'valid_from') }} as provider_key,
        provider_id,
        provider_name,
        specialty,
        hospital_id,
        city,
        state,
        {{ dbt_utils.generate_surrogate_key(['city', 'state']) }} as location_key,
        {{ dbt_utils.generate_surrogate_key(['specialty']) }} as specialty_key,
        valid_from,
        valid_to,
        valid_to = cast('infinity' as timestamptz) as is_current
    from providers_snapshot
    where dbt_valid_to is null
)

select * from current_provider_versions
