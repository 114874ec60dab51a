with

claims as (
    select * from {{ ref('fct_claims') }}
),

prescription_fills as (
    select * from {{ ref('fct_prescription_fills') }}
),

claims_summed_per_patient_month as (
    select
        patient_id,
        cast(date_trunc('month', service_date) as date) as month_start,
        count(*) as claims,
        sum(billed_amount) as billed_amount,
        sum(allowed_amount) as allowed_amount,
        sum(paid_amount) as paid_amount
    from claims
    group by patient_id, cast(date_trunc('month', service_date) as date)
),

fills_summed_per_patient_month as (
    select
        patient_id,
        cast(date_trunc('month', fill_date) as date) as month_start,
        count(*) as fills,
        sum(cost) as pharmacy_cost
    from prescription_fills
    group by patient_id, cast(date_trunc('month', fill_date) as date)
),

costs_joined as (
    select
        coalesce(claims_summed_per_patient_month.patient_id, fills_summed_per_patient_month.patient_id)
            as patient_id,
        coalesce(claims_summed_per_patient_month.month_start, fills_summed_per_patient_month.month_start)
            as month_start,
        coalesce(claims_summed_per_patient_month.claims, 0) as claims,
        coalesce(claims_summed_per_patient_month.billed_amount, 0) as billed_amount,
        coalesce(claims_summed_per_patient_month.allowed_amount, 0) as allowed_amount,
        coalesce(claims_summed_per_patient_month.paid_amount, 0) as paid_amount,
        coalesce(fills_summed_per_patient_month.fills, 0) as fills,
        coalesce(fills_summed_per_patient_month.pharmacy_cost, 0) as pharmacy_cost
    from claims_summed_per_patient_month
    full outer join fills_summed_per_patient_month
        on
            claims_summed_per_patient_month.patient_id = fills_summed_per_patient_month.patient_id
            and claims_summed_per_patient_month.month_start = fills_summed_per_patient_month.month_start
),

costs_totalled as (
    select
        patient_id,
        month_start,
        claims,
        cast(billed_amount as numeric(16, 2)) as billed_amount,
        cast(allowed_amount as numeric(16, 2)) as allowed_amount,
        cast(paid_amount as numeric(16, 2)) as paid_amount,
        fills,
        cast(pharmacy_cost as numeric(16, 2)) as pharmacy_cost,
        cast(paid_amount + pharmacy_cost as numeric(16, 2)) as total_paid
    from costs_joined
)

select * from costs_totalled
