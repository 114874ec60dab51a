with

claims as (
    select * from {{ ref('fct_claims') }}
),

prescription_fills as (
    select * from {{ ref('fct_prescription_fills') }}
),

providers as (
    select * from {{ ref('dim_provider') }}
),

current_providers as (
    select
        provider_id,
        hospital_id
    from providers
    where is_current
),

claims_summed_per_provider as (
    select
        provider_id,
        count(*) as claims,
        sum(billed_amount) as billed_amount,
        sum(allowed_amount) as allowed_amount,
        sum(paid_amount) as paid_amount
    from claims
    group by provider_id
),

fills_summed_per_prescriber as (
    select
        prescriber_id as provider_id,
        count(*) as fills,
        sum(cost) as pharmacy_cost
    from prescription_fills
    group by prescriber_id
),

costs_joined as (
    select
        coalesce(claims_summed_per_provider.provider_id, fills_summed_per_prescriber.provider_id) as provider_id,
        coalesce(claims_summed_per_provider.claims, 0) as claims,
        coalesce(claims_summed_per_provider.billed_amount, 0) as billed_amount,
        coalesce(claims_summed_per_provider.allowed_amount, 0) as allowed_amount,
        coalesce(claims_summed_per_provider.paid_amount, 0) as paid_amount,
        coalesce(fills_summed_per_prescriber.fills, 0) as fills,
        coalesce(fills_summed_per_prescriber.pharmacy_cost, 0) as pharmacy_cost
    from claims_summed_per_provider
    full outer join fills_summed_per_prescriber
        on claims_summed_per_provider.provider_id = fills_summed_per_prescriber.provider_id
),

costs_joined_to_current_hospital as (
    select
        costs_joined.provider_id,
        current_providers.hospital_id,
        costs_joined.claims,
        cast(costs_joined.billed_amount as numeric(16, 2)) as billed_amount,
        cast(costs_joined.allowed_amount as numeric(16, 2)) as allowed_amount,
        cast(costs_joined.paid_amount as numeric(16, 2)) as paid_amount,
        costs_joined.fills,
        cast(costs_joined.pharmacy_cost as numeric(16, 2)) as pharmacy_cost,
        cast(costs_joined.paid_amount + costs_joined.pharmacy_cost as numeric(16, 2)) as total_paid
    from costs_joined
    left join current_providers
        on costs_joined.provider_id = current_providers.provider_id
)

select * from costs_joined_to_current_hospital
