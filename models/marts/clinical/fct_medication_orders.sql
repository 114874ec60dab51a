with

medication_orders as (
    select * from {{ ref('stg_ehr__medication_orders') }}
),

visits as (
    select * from {{ ref('stg_ehr__visits') }}
),

accepted_visits as (
    select
        visit_id,
        provider_id
    from visits
    where reject_rule is null
),

medication_orders_joined_to_visits as (
    select
        medication_orders.visit_id,
        medication_orders.order_number,
        medication_orders.patient_id,
        accepted_visits.provider_id,
        medication_orders.drug,
        medication_orders.dose,
        medication_orders.route,
        medication_orders.start_date,
        medication_orders.end_date
    from medication_orders
    inner join accepted_visits
        on medication_orders.visit_id = accepted_visits.visit_id
    where medication_orders.reject_rule is null
)

select * from medication_orders_joined_to_visits
