with

provider_success_rate as (
    select * from {{ ref('provider_success_rate') }}
),

providers_above_threshold as (
    select
        provider_id,
        provider_name,
        successful_treatments,
        success_rate,
        successful_treatments + failed_treatments as completed_treatments
    from provider_success_rate
    where successful_treatments + failed_treatments >= {{ var('min_completed_for_rank') }}
),

providers_ranked_by_success_rate as (
    select
        provider_id,
        provider_name,
        completed_treatments,
        successful_treatments,
        success_rate,
        rank() over (order by success_rate desc nulls last) as success_rate_rank
    from providers_above_threshold
)

select * from providers_ranked_by_success_rate
