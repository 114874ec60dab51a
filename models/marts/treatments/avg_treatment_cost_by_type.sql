with

fct_treatments as (
    select * from {{ ref('fct_treatments') }}
),

costs_ordered_within_type as (
    select
        treatment_type,
        cost,
        row_number() over (
            partition by treatment_type
            order by cost
        ) as cost_position,
        count(*) over (partition by treatment_type) as cost_count
    from fct_treatments
    where cost is not null
),

median_cost_per_type as (
    -- Exact median in numeric: the middle value for an odd count,
    -- the mean of the two middle values for an even count.
    select
        treatment_type,
        avg(cost) as median_cost
    from costs_ordered_within_type
    where cost_position in ((cost_count + 1) / 2, (cost_count + 2) / 2)
    group by treatment_type
),

cost_aggregated_per_type as (
    -- Every treatment type present in the facts; the aggregates ignore unknown (null) costs,
    -- so a type without a known cost gets 0 treatments_with_cost and null statistics.
    select
        treatment_type,
        count(cost) as treatments_with_cost,
        avg(cost) as avg_cost,
        min(cost) as min_cost,
        max(cost) as max_cost,
        sum(cost) as total_cost
    from fct_treatments
    group by treatment_type
),

cost_statistics_per_type as (
    select
        cost_aggregated_per_type.treatment_type,
        cost_aggregated_per_type.treatments_with_cost,
        cast(round(cost_aggregated_per_type.avg_cost, 2) as numeric(16, 2)) as avg_cost,
        cast(round(median_cost_per_type.median_cost, 2) as numeric(16, 2)) as median_cost,
        cast(cost_aggregated_per_type.min_cost as numeric(16, 2)) as min_cost,
        cast(cost_aggregated_per_type.max_cost as numeric(16, 2)) as max_cost,
        cast(cost_aggregated_per_type.total_cost as numeric(16, 2)) as total_cost
    from cost_aggregated_per_type
    left join median_cost_per_type
        on cost_aggregated_per_type.treatment_type is not distinct from median_cost_per_type.treatment_type
)

select * from cost_statistics_per_type
