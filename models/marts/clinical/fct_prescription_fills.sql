{#- BI indexes: fills by hospital and fill date (hospital_id is also the row-level security
    predicate of every hospital role), and one patient's fills. -#}
{{
    config(
        indexes=[
            {'columns': ['hospital_id', 'fill_date']},
            {'columns': ['patient_id']},
        ],
    )
}}

with

prescription_fills as (
    select * from {{ ref('stg_fills__prescription_fills') }}
),

providers as (
    select * from {{ ref('dim_provider') }}
),

fills_joined_to_prescribers as (
    select
        prescription_fills.rx_id,
        prescription_fills.patient_id,
        prescription_fills.prescriber_id,
        providers.hospital_id,
        prescription_fills.ndc,
        prescription_fills.drug_name,
        prescription_fills.fill_date,
        prescription_fills.days_supply,
        prescription_fills.quantity,
        prescription_fills.cost
    from prescription_fills
    left join providers
        on
            prescription_fills.prescriber_id = providers.provider_id
            and {{ reporting_day_start('prescription_fills.fill_date') }} >= providers.valid_from
            and {{ reporting_day_start('prescription_fills.fill_date') }} < providers.valid_to
    where prescription_fills.reject_rule is null
)

select * from fills_joined_to_prescribers
