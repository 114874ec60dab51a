with

fct_treatments as (
    select * from {{ ref('fct_treatments') }}
),

treatments_with_month as (
    select
        outcome_status,
        cast(date_trunc('month', cast(treatment_date as timestamp)) as date) as month_start
    from fct_treatments
),

month_bounds as (
    select
        min(month_start) as first_month_start,
        max(month_start) as last_month_start
    from treatments_with_month
),

month_spine as (
    {{ date_series('month_bounds', 'first_month_start', 'last_month_start', '1 month', 'month_start') }}
),

outcomes_counted_per_month as (
    select
        month_start,
        count(*) as treatments,
        count(*) filter (where {{ is_completed_outcome('outcome_status') }}) as completed_treatments,
        count(*) filter (where outcome_status = 'success') as successful_treatments
    from treatments_with_month
    group by month_start
),

months_filled as (
    select
        month_spine.month_start,
        coalesce(outcomes_counted_per_month.treatments, 0) as treatments,
        coalesce(outcomes_counted_per_month.completed_treatments, 0) as completed_treatments,
        coalesce(outcomes_counted_per_month.successful_treatments, 0) as successful_treatments
    from month_spine
    left join outcomes_counted_per_month
        on month_spine.month_start = outcomes_counted_per_month.month_start
),

success_rate_per_month as (
    select
        month_start,
        treatments,
        completed_treatments,
        successful_treatments,
        {{ success_rate('successful_treatments', 'completed_treatments') }} as success_rate
    from months_filled
),

success_rate_change_per_month as (
    select
        month_start,
        treatments,
        completed_treatments,
        successful_treatments,
        success_rate,
        success_rate - lag(success_rate) over (order by month_start) as success_rate_change
    from success_rate_per_month
)

select * from success_rate_change_per_month
