with

fct_treatments as (
    select * from {{ ref('fct_treatments') }}
),

dim_location as (
    select * from {{ ref('dim_location') }}
),

treatments_located as (
    select
        fct_treatments.treatment_id,
        fct_treatments.patient_id,
        fct_treatments.provider_id,
        fct_treatments.cost,
        dim_location.state
    from fct_treatments
    left join dim_location
        on fct_treatments.location_key = dim_location.location_key
),

treatments_aggregated_per_state as (
    select
        state,
        count(*) as treatments,
        count(distinct patient_id) as distinct_patients,
        count(distinct provider_id) as distinct_providers,
        coalesce(sum(cost), 0) as total_cost
    from treatments_located
    group by state
),

treatments_share_per_state as (
    select
        state,
        treatments,
        distinct_patients,
        distinct_providers,
        cast(total_cost as numeric(16, 2)) as total_cost,
        cast(treatments as numeric) / sum(treatments) over () as share_of_treatments
    from treatments_aggregated_per_state
)

select * from treatments_share_per_state
