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
        provider_name
    from dim_provider
    where is_current
),

completed_counted_per_provider as (
    select
        provider_id,
        count(*) filter (where {{ is_completed_outcome('outcome_status') }}) as completed_treatments,
        count(*) filter (where outcome_status = 'success') as successful_treatments
    from fct_treatments
    group by provider_id
),

providers_above_threshold as (
    select
        provider_id,
        completed_treatments,
        successful_treatments,
        {{ success_rate('successful_treatments', 'completed_treatments') }} as success_rate
    from completed_counted_per_provider
    where completed_treatments >= {{ var('min_completed_for_rank', 20) }}
),

providers_ranked_by_success_rate as (
    select
        providers_above_threshold.provider_id,
        current_providers.provider_name,
        providers_above_threshold.completed_treatments,
        providers_above_threshold.successful_treatments,
        providers_above_threshold.success_rate,
        rank() over (
            order by providers_above_threshold.success_rate desc nulls last
        ) as success_rate_rank
    from providers_above_threshold
    left join current_providers
        on providers_above_threshold.provider_id = current_providers.provider_id
)

select * from providers_ranked_by_success_rate
