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

outcomes_counted_per_provider as (
    select
        provider_id,
        count(*) as total_treatments,
        count(*) filter (where {{ is_completed_outcome('outcome_status') }}) as completed_treatments,
        count(*) filter (where outcome_status = 'success') as successful_treatments,
        count(*) filter (where outcome_status = 'failure') as failed_treatments,
        count(*) filter (where outcome_status = 'ongoing') as ongoing_treatments,
        count(*) filter (where outcome_status = 'cancelled') as cancelled_treatments
    from fct_treatments
    group by provider_id
),

success_rate_per_provider as (
    select
        outcomes_counted_per_provider.provider_id,
        current_providers.provider_name,
        outcomes_counted_per_provider.total_treatments,
        outcomes_counted_per_provider.successful_treatments,
        outcomes_counted_per_provider.failed_treatments,
        outcomes_counted_per_provider.ongoing_treatments,
        outcomes_counted_per_provider.cancelled_treatments,
        {{ success_rate(
            'outcomes_counted_per_provider.successful_treatments',
            'outcomes_counted_per_provider.completed_treatments'
        ) }} as success_rate
    from outcomes_counted_per_provider
    left join current_providers
        on outcomes_counted_per_provider.provider_id = current_providers.provider_id
)

select * from success_rate_per_provider
