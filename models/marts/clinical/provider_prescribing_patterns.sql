with

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

fills_summed_per_prescriber_drug as (
    select
        prescriber_id,
        drug_name,
        count(*) as fills,
        count(distinct patient_id) as patients,
        sum(days_supply) as total_days_supply,
        coalesce(sum(cost), 0) as total_cost
    from prescription_fills
    group by prescriber_id, drug_name
),

prescribing_patterns as (
    select
        fills_summed_per_prescriber_drug.prescriber_id,
        current_providers.hospital_id,
        fills_summed_per_prescriber_drug.drug_name,
        fills_summed_per_prescriber_drug.fills,
        fills_summed_per_prescriber_drug.patients,
        fills_summed_per_prescriber_drug.total_days_supply,
        cast(fills_summed_per_prescriber_drug.total_cost as numeric(16, 2)) as total_cost,
        cast(fills_summed_per_prescriber_drug.fills as numeric)
        / sum(fills_summed_per_prescriber_drug.fills) over prescriber_drugs as share_of_prescriber_fills,
        rank() over (
            prescriber_drugs order by fills_summed_per_prescriber_drug.fills desc
        ) as drug_rank
    from fills_summed_per_prescriber_drug
    left join current_providers
        on fills_summed_per_prescriber_drug.prescriber_id = current_providers.provider_id
    window prescriber_drugs as (partition by fills_summed_per_prescriber_drug.prescriber_id)
)

select * from prescribing_patterns
