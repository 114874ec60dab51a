with

fct_treatments as (
    select * from {{ ref('fct_treatments') }}
),

dim_provider as (
    select * from {{ ref('dim_provider') }}
),

current_providers as (
    select
        provider_id,
        provider_name,
        specialty
    from dim_provider
    where is_current
),

treatments_counted_per_provider as (
    select
        provider_id,
        count(*) as total_treatments
    from fct_treatments
    group by provider_id
),

providers_ranked_by_total_treatments as (
    select
        treatments_counted_per_provider.provider_id,
        current_providers.provider_name,
        current_providers.specialty,
        treatments_counted_per_provider.total_treatments,
        rank() over (
            order by treatments_counted_per_provider.total_treatments desc
        ) as treatment_rank
    from treatments_counted_per_provider
    left join current_providers
        on treatments_counted_per_provider.provider_id = current_providers.provider_id
)

select * from providers_ranked_by_total_treatments
