{#-
    Proportion of days covered (PDC, PQA-style) per patient and drug over the fills in the
    measurement period [var adherence_period_start, var adherence_period_end]. Fills are taken
    in (fill_date, rx_id) order; a fill starts on its fill date or, when the previous supply
    still lasts, the day after that supply ends (an early refill shifts forward):
        start_k = greatest(fill_date_k, end_(k-1) + 1),  end_k = start_k + days_supply_k - 1.
    Unrolled, end_k = S_k + max over j <= k of (fill_date_j - 1 - S_(j-1)), with S_k the running
    sum of days_supply: two window passes instead of a recursion. Covered days are clipped at
    the period end; the window runs from the first fill to the period end.
-#}
with

prescription_fills as (
    select * from {{ ref('fct_prescription_fills') }}
),

fills_in_period as (
    select
        patient_id,
        drug_name,
        rx_id,
        fill_date,
        days_supply,
        cast('{{ var("adherence_period_end") }}' as date) as period_end
    from prescription_fills
    where
        fill_date between cast('{{ var("adherence_period_start") }}' as date)
        and cast('{{ var("adherence_period_end") }}' as date)
),

fills_with_running_supply as (
    select
        patient_id,
        drug_name,
        rx_id,
        fill_date,
        days_supply,
        period_end,
        cast(sum(days_supply) over running_fills as integer) as supply_through_fill
    from fills_in_period
    window running_fills as (
        partition by patient_id, drug_name
        order by fill_date asc, rx_id asc
        rows between unbounded preceding and current row
    )
),

fills_with_supply_end as (
    select
        patient_id,
        drug_name,
        rx_id,
        fill_date,
        days_supply,
        period_end,
        supply_through_fill + max(fill_date - 1 - (supply_through_fill - days_supply)) over running_fills
            as supply_end
    from fills_with_running_supply
    window running_fills as (
        partition by patient_id, drug_name
        order by fill_date asc, rx_id asc
        rows between unbounded preceding and current row
    )
),

fills_covering_days as (
    select
        patient_id,
        drug_name,
        fill_date,
        period_end,
        greatest(0, least(supply_end, period_end) - (supply_end - days_supply + 1) + 1) as days_covered
    from fills_with_supply_end
),

adherence_per_patient_drug as (
    select
        patient_id,
        drug_name,
        count(*) as fills,
        min(fill_date) as first_fill_date,
        max(fill_date) as last_fill_date,
        max(period_end) - min(fill_date) + 1 as window_days,
        sum(days_covered) as days_covered
    from fills_covering_days
    group by patient_id, drug_name
    having count(*) >= {{ var('adherence_min_fills') }}
),

adherence_measured as (
    select
        patient_id,
        drug_name,
        fills,
        first_fill_date,
        last_fill_date,
        window_days,
        days_covered,
        cast(days_covered as numeric) / window_days as pdc,
        cast(days_covered as numeric) / window_days >= {{ var('adherence_threshold') }} as is_adherent
    from adherence_per_patient_drug
)

select * from adherence_measured
